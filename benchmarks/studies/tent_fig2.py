"""TENT Fig. 2 as a one-interval study: a supply curve against an inelastic load, cleared by
tefed's uniform-price curve clearing (TENT's interpolation where net power crosses zero).

The figure of the Transactive Energy Network Template metamodel (Hammerstrom, PNNL-28420): a
supplier offers nothing below 0.01 USD/kWh and up to 25 MW linearly to 0.035 USD/kWh; a load
takes 15 MW at any price. The curves cross 15/25 of the way along the supply curve:
0.01 + 0.6 x 0.025 = 0.025 USD/kWh, 15 MW. ``python -m benchmarks.studies.tent_fig2`` prints
tefed's clearing.
"""

from __future__ import annotations

import pandas as pd

from tefed.domain.market.mechanisms.curve_clearing import CurveClearingResult, clear_curves

#: The paper's result: price [USD/kWh] and cleared power [kW].
PAPER_PRICE_USD_PER_KWH = 0.025
PAPER_POWER_KW = 15_000.0


def clear_fig2() -> CurveClearingResult:
    """Clear the figure's two curves (TENT vertices; generation negative) in one interval."""
    vertices = pd.DataFrame(
        {
            "order_id": ["supply", "supply", "load"],
            "participant": ["plant", "plant", "town"],
            "price_usd_per_kwh": [0.01, 0.035, 0.0],
            "power_kw": [0.0, -25_000.0, 15_000.0],
            "continuity": [True, True, True],
        }
    )
    return clear_curves(vertices)


def main() -> int:
    """Print tefed's clearing beside the paper's."""
    result = clear_fig2()
    print(
        f"TENT Fig. 2: paper {PAPER_PRICE_USD_PER_KWH} USD/kWh, {PAPER_POWER_KW / 1000:g} MW; "
        f"tefed {result.price_usd_per_kwh:.6f} USD/kWh, "
        f"{result.power_kw['load'] / 1000:.6f} MW ({result.status})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
