"""OpenGridGym use cases 1 and 3 (El Helou et al.) with tefed's DLMP market and affine orders.

The feeders are the IEEE 34- and 37-node test feeders as OpenDSS models: from EPRI's OpenDSS
repository (``Distrib/IEEETestCases/34Bus/ieee34Mod1.dss`` and ``37Bus/ieee37.dss``,
https://sourceforge.net/p/electricdss/code/HEAD/tree/trunk/Distrib/IEEETestCases/, BSD-3; also
in DSS-Extensions' ``electricdss-tst``). tefed does not ship them:
``python -m benchmarks.studies.opengridgym --feeders DIR OUT`` takes the folder holding
``34Bus/`` and ``37Bus/`` (in this project's tests ``../shared/feeders``).

Use case 1 (congestion, IEEE 34). One interval. 28 demand bids, one per load bus of
``ieee34Mod1.dss`` (its loads summed per bus, 1,769 kW in all); five supply units of equal
capacity: the substation at the feeder head sells at the wholesale price, flat, up to its
capacity (the market's ``substation_limit_kw``), and four price-responsive generators sit on
the trunk at the buses nearest to 1/5 … 4/5 of its length from 800 to 840 (808, 812, 824,
854). Parameters the paper does not give, chosen here (module constants): unit capacity
1,000 kW (so the head unit is the marginal one without congestion: one price, the wholesale
price), wholesale price 4.3 ¢/kWh (the paper's uncongested price), generator curves rising
linearly from 3 to 7 ¢/kWh over their capacity, a limit of 500 kVA on line L14 (828–830) for
the congested cases (the rating at which the downstream DLMP is the paper's ~6.9 ¢/kWh; 600 kVA
gives 6.5), demand valued from 10 ¢/kWh at its inelastic part down to 3 ¢/kWh at its full load,
flexibility = the share of each load that is price-responsive (0 for inelastic demand, every
buyer at a fixed power; 8 % and 75 % as in the paper). Voltage limits are not enforced (band
0.5–1.5 pu): LinDistFlow does not model the feeder's two regulators, without which IEEE 34 sags
below 0.95 pu at this load; the congestion studied is the line's.

Use case 3 (DLMPs, IEEE 37). One interval of ``ieee37.dss``'s own loads as inelastic bids,
three distributed generators (at 738, 744 and 741, 300 kW each, 3 to 8 ¢/kWh) and two demand-
response providers (at 728 and 736, up to 200 kW of load they give up above 6 ¢/kWh), the
substation at 5 ¢/kWh, and a 1,200 kVA limit on line L1 (701–702): the DLMP of every bus, and a
map of them on the feeder's coordinates (``37Bus/IEEE37_BusXY.csv``).

The market: `tefed.domain.market.mechanisms.dlmp.DlmpMarket` on the LinDistFlow model of the
feeder (`tefed.io.opendss.network_extraction`), solved by HiGHS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tefed.contract.role_configs import OpenDssFeederConfig
from tefed.domain.market.mechanisms.dlmp import DlmpMarket, DlmpResult
from tefed.domain.network.radial import RadialNetwork
from tefed.io.highs_solver import HighsSolver
from tefed.io.opendss.model import compile_feeder, feeder_load_points
from tefed.io.opendss.network_extraction import extract_market_network

IEEE34 = Path("34Bus") / "ieee34Mod1.dss"
IEEE37 = Path("37Bus") / "ieee37.dss"
IEEE37_COORDINATES = Path("37Bus") / "IEEE37_BusXY.csv"

#: Use case 1: supply units, prices and the congested line (module docstring).
UNIT_CAPACITY_KW = 1000.0
WHOLESALE_USD_PER_KWH = 0.043
GENERATOR_BUSES = ("808", "812", "824", "854")
GENERATOR_PRICE_USD_PER_KWH = (0.03, 0.07)
CONGESTED_LINE = "Line.l14"
CONGESTED_RATING_KVA = 500.0
DEMAND_PRICE_USD_PER_KWH = (0.10, 0.03)
#: The paper's figures [USD/kWh].
PAPER = {
    "uncongested_price": 0.043,
    "congested_prices": (0.046, 0.048, 0.069),
    "consumer_price_flexible_8": 0.0664,
    "consumer_price_flexible_75": 0.0528,
}

#: Use case 3: generators, demand response, substation price, congested line.
IEEE37_GENERATORS = {"738": 300.0, "744": 300.0, "741": 300.0}
IEEE37_GENERATOR_PRICE_USD_PER_KWH = (0.03, 0.08)
IEEE37_DEMAND_RESPONSE = {"728": 200.0, "736": 200.0}
IEEE37_DEMAND_RESPONSE_PRICE_USD_PER_KWH = 0.06
IEEE37_WHOLESALE_USD_PER_KWH = 0.05
IEEE37_CONGESTED_LINE = "Line.l1"
IEEE37_CONGESTED_RATING_KVA = 1200.0


def feeder_network(master: Path) -> tuple[RadialNetwork, pd.Series, pd.DataFrame]:
    """The LinDistFlow network of an OpenDSS feeder, its loads by bus [kW] and its branches.

    Raises
    ------
    FileNotFoundError
        If ``master`` does not exist (naming where a user gets the IEEE feeders).
    """
    if not master.is_file():
        raise FileNotFoundError(
            f"{master} not found: the IEEE test feeders come with OpenDSS (EPRI, "
            "Distrib/IEEETestCases); pass --feeders with the folder holding 34Bus/ and 37Bus/"
        )
    config = OpenDssFeederConfig(
        source="opendss",
        master=str(master.resolve()),
        commands=[],
        regulators="automatic",
        existing_loads="keep",
        existing_load_scale=1.0,
    )
    extracted = extract_market_network(config, ".")
    compile_feeder(master_path=master)
    loads_kw = feeder_load_points().groupby("bus")["power_kw"].sum()
    return (
        RadialNetwork.from_branches(extracted.branches, extracted.source_bus),
        loads_kw,
        extracted.branches,
    )


def _with_rating(branches: pd.DataFrame, branch: str, rating_kva: float | None) -> pd.DataFrame:
    """The branch table with every rating lifted, and ``branch`` rated ``rating_kva``."""
    rated = branches.assign(rating_kva=np.inf)
    if rating_kva is not None:
        rated.loc[rated["branch"] == branch, "rating_kva"] = rating_kva
    return rated


def _clear(
    branches: pd.DataFrame,
    source_bus: str,
    orders: pd.DataFrame,
    participant_bus: pd.Series,
    wholesale: float,
    substation_limit_kw: float | None,
    source_voltage_pu: float,
) -> DlmpResult:
    network = RadialNetwork.from_branches(branches, source_bus)
    market = DlmpMarket(
        network,
        participant_bus,
        voltage_min_pu=0.5,
        voltage_max_pu=1.5,
        source_voltage_pu=source_voltage_pu,
        substation_limit_kw=substation_limit_kw,
        solver=HighsSolver(),
    )
    result = market.clear(orders, wholesale)
    if result.status != "optimal":
        raise RuntimeError(f"the clearing is {result.status}: {result.reason}")
    return result


def _order(participant: str, side: str, prices: tuple[float, float], powers: tuple[float, float]):
    return {
        "order_id": f"{participant}_{side}",
        "participant": participant,
        "side": side,
        "price_max_usd_per_kwh": max(prices),
        "price_min_usd_per_kwh": min(prices),
        "power_max_kw": powers[1],
        "power_min_kw": powers[0],
    }


def use_case_1(feeders: Path, flexibility: float, congested: bool) -> dict[str, Any]:
    """One clearing of use case 1: DLMPs by bus, consumer price, binding branches.

    Parameters
    ----------
    feeders : Path
        Folder holding ``34Bus/ieee34Mod1.dss``.
    flexibility : float
        Share of each load that is price-responsive, in [0, 1] [-].
    congested : bool
        Whether line L14 is limited to 500 kVA.

    Returns
    -------
    dict
        ``dlmp_usd_per_kwh`` by load bus, ``price_levels_usd_per_kwh`` (distinct DLMPs of the
        load buses, rounded to 0.1 ¢), ``consumer_price_usd_per_kwh`` (served energy valued at
        its bus's DLMP over the served energy), ``served_kw``, ``generation_kw`` by unit,
        ``binding_branches``.
    """
    _, loads_kw, branches = feeder_network(feeders / IEEE34)
    source_bus = branches.loc[~branches["from_bus"].isin(branches["to_bus"]), "from_bus"].iloc[0]
    orders, buses = [], {}
    for bus, load_kw in loads_kw.items():
        name = f"load_{bus}"
        buses[name] = bus
        orders.append(
            _order(name, "buy", DEMAND_PRICE_USD_PER_KWH, ((1 - flexibility) * load_kw, load_kw))
        )
    for bus in GENERATOR_BUSES:
        name = f"generator_{bus}"
        buses[name] = bus
        orders.append(_order(name, "sell", GENERATOR_PRICE_USD_PER_KWH, (0.0, UNIT_CAPACITY_KW)))
    rated = _with_rating(branches, CONGESTED_LINE, CONGESTED_RATING_KVA if congested else None)
    result = _clear(
        rated,
        source_bus,
        pd.DataFrame(orders),
        pd.Series(buses),
        WHOLESALE_USD_PER_KWH,
        UNIT_CAPACITY_KW,
        1.05,
    )
    power = result.power_kw
    demand = power[power.index.str.startswith("load_")]
    price = result.price_usd_per_kwh[demand.index]
    load_dlmp = result.dlmp_usd_per_kwh[loads_kw.index]
    return {
        "flexibility": flexibility,
        "congested": congested,
        "dlmp_usd_per_kwh": load_dlmp.round(5).to_dict(),
        "price_levels_usd_per_kwh": sorted(set(np.round(load_dlmp.to_numpy(), 3).tolist())),
        "consumer_price_usd_per_kwh": float((price * demand).sum() / demand.sum()),
        "served_kw": float(demand.sum()),
        "demand_kw": float(loads_kw.sum()),
        "generation_kw": (-power[power.index.str.startswith("generator_")]).round(1).to_dict(),
        "substation_kw": round(result.substation_power_kw, 1),
        "binding_branches": result.binding_branches["branch"].tolist(),
    }


def use_case_3(feeders: Path, output: Path) -> dict[str, Any]:
    """DLMPs on IEEE 37 with generators and demand response; writes ``dlmp_map_ieee37.png``."""
    _, loads_kw, branches = feeder_network(feeders / IEEE37)
    source_bus = branches.loc[~branches["from_bus"].isin(branches["to_bus"]), "from_bus"].iloc[0]
    orders, buses = [], {}
    for bus, load_kw in loads_kw.items():
        name = f"load_{bus}"
        buses[name] = bus
        orders.append(_order(name, "buy", (0.5, 0.5), (load_kw, load_kw)))
    for bus, capacity_kw in IEEE37_GENERATORS.items():
        name = f"generator_{bus}"
        buses[name] = bus
        orders.append(_order(name, "sell", IEEE37_GENERATOR_PRICE_USD_PER_KWH, (0.0, capacity_kw)))
    for bus, reduction_kw in IEEE37_DEMAND_RESPONSE.items():
        # Demand response as a seller of load it gives up, at a step price.
        name = f"demand_response_{bus}"
        buses[name] = bus
        price = IEEE37_DEMAND_RESPONSE_PRICE_USD_PER_KWH
        orders.append(_order(name, "sell", (price, price), (0.0, reduction_kw)))
    rated = _with_rating(branches, IEEE37_CONGESTED_LINE, IEEE37_CONGESTED_RATING_KVA)
    result = _clear(
        rated,
        source_bus,
        pd.DataFrame(orders),
        pd.Series(buses),
        IEEE37_WHOLESALE_USD_PER_KWH,
        None,
        1.0,
    )
    dlmp = result.dlmp_usd_per_kwh
    coordinates = feeders / IEEE37_COORDINATES
    if coordinates.is_file():
        _plot_dlmp_map(dlmp, branches, coordinates, output / "dlmp_map_ieee37.png")
    power = result.power_kw
    return {
        "dlmp_usd_per_kwh": dlmp.round(5).to_dict(),
        "dlmp_range_usd_per_kwh": [float(dlmp.min()), float(dlmp.max())],
        "generation_kw": (-power[power.index.str.startswith("generator_")]).round(1).to_dict(),
        "demand_response_kw": (-power[power.index.str.startswith("demand_response_")])
        .round(1)
        .to_dict(),
        "substation_kw": round(result.substation_power_kw, 1),
        "binding_branches": result.binding_branches["branch"].tolist(),
    }


def _plot_dlmp_map(dlmp: pd.Series, branches: pd.DataFrame, coordinates: Path, path: Path) -> None:
    """Buses at their coordinates, coloured by DLMP [¢/kWh], branches as lines."""
    xy = pd.read_csv(coordinates, header=None, names=["bus", "x", "y"], dtype={"bus": str})
    xy["bus"] = xy["bus"].str.strip().str.lower()
    xy = xy.set_index("bus")
    figure, axes = plt.subplots(figsize=(7, 6))
    for start, end in zip(branches["from_bus"], branches["to_bus"], strict=True):
        if start in xy.index and end in xy.index:
            axes.plot(*xy.loc[[start, end], ["x", "y"]].to_numpy().T, color="0.7", lw=1)
    shown = xy.index.intersection(dlmp.index)
    points = axes.scatter(
        xy.loc[shown, "x"], xy.loc[shown, "y"], c=100 * dlmp[shown], cmap="viridis", s=60
    )
    figure.colorbar(points, ax=axes, label="DLMP [¢/kWh]")
    axes.set_title("IEEE 37-node feeder: DLMP by bus (tefed, OpenGridGym use case 3)")
    axes.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def run(feeders: Path, output: Path) -> dict[str, Any]:
    """Both use cases; writes ``opengridgym.json`` (and the map) to ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    cases = {
        "uncongested": use_case_1(feeders, 0.0, congested=False),
        "congested_inelastic": use_case_1(feeders, 0.0, congested=True),
        "congested_flexible_8": use_case_1(feeders, 0.08, congested=True),
        "congested_flexible_75": use_case_1(feeders, 0.75, congested=True),
    }
    figures = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "paper": PAPER,
        "use_case_1": cases,
        "use_case_3": use_case_3(feeders, output),
    }
    (output / "opengridgym.json").write_text(json.dumps(figures, indent=2))
    return figures


def main(argv: list[str] | None = None) -> int:
    """``--feeders DIR OUT``: run both use cases and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.studies.opengridgym")
    parser.add_argument("output", type=Path)
    parser.add_argument("--feeders", type=Path, required=True, help="folder with 34Bus/, 37Bus/")
    arguments = parser.parse_args(argv)
    figures = run(arguments.feeders, arguments.output)
    for name, case in figures["use_case_1"].items():
        levels = ", ".join(f"{100 * price:.2f}" for price in case["price_levels_usd_per_kwh"])
        print(
            f"{name}: DLMP levels {levels} ¢/kWh, consumer price "
            f"{100 * case['consumer_price_usd_per_kwh']:.2f} ¢/kWh, served "
            f"{case['served_kw']:.0f} of {case['demand_kw']:.0f} kW, binding "
            f"{case['binding_branches']}"
        )
    low, high = figures["use_case_3"]["dlmp_range_usd_per_kwh"]
    print(f"IEEE 37: DLMP {100 * low:.2f} to {100 * high:.2f} ¢/kWh")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
