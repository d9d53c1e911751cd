"""The settlement check: a market candidate's settlements recomputed from what it awarded.

Each ``settlement`` the candidate sent is judged against the ``awards`` it sent the same
household, the household's metered energy (as tefed's ems recorded it: the net power it
published, which the grid meters) and the interval's net-billing prices (as tefed's price feed
recorded them), under the MicroTE delivery rules of ``docs/interfaces.md``
(`tefed.analysis.received_messages.settlement_discrepancies`). Pure: it judges a `CheckInputs`.
"""

from __future__ import annotations

import pandas as pd

from tefed.analysis.received_messages import settlement_discrepancies
from tefed.analysis.summary import METERED_ENERGY_TOLERANCE_WH, MONEY_TOLERANCE_USD
from tefed.conformance.messages import household_messages
from tefed.conformance.observations import CheckInputs, Finding, capped
from tefed.contract import keys
from tefed.contract.messages import AwardsMessage, SettlementMessage, parse_market_message

CHECK = "settlement"
_FIX = (
    "pay each award at its own price, and the deviation from the awards at the interval's "
    "import price (shortfall, grid_import) or export price (unused, grid_export), unused energy "
    "returned to its seller (T-REX rule 10) at 0 with the seller as counterparty; energy_wh is "
    "the metered energy, amount_usd the sum of the lines (docs/interfaces.md, 'settlement')"
)
_KEY = ["interval_index", "household_id"]
#: Columns of the awards the candidate sent, one row per award.
AWARD_COLUMNS = [
    *_KEY,
    "order_id",
    "side",
    "pool",
    "quantity_wh",
    "price_usd_per_kwh",
    "counterparty",
]


def check_settlement(inputs: CheckInputs) -> list[Finding]:
    """A market's settlements follow the delivery rules from its own awards, the metering and
    the prices: every household gets one settlement per interval, stating its metered energy
    and its awarded net energy, whose lines and total are what the rules give.

    Judged for a market candidate whose run left the households' records and the prices;
    missing settlements only for a run that completed.

    Parameters
    ----------
    inputs : CheckInputs
        What the harness run observed of the candidate.

    Returns
    -------
    list of Finding
        One per violation (expected against observed); empty when the check passes.
    """
    if inputs.role != "market" or inputs.household_intervals is None or inputs.prices is None:
        return []
    awards, lines, settlements = received_by_households(inputs)
    metered = inputs.household_intervals.set_index(_KEY)["energy_wh"]
    findings = []
    repeated = settlements[settlements.duplicated(_KEY, keep="first")]
    findings += [
        Finding(
            CHECK,
            f"{row.household_id} got more than one settlement for interval {row.interval_index}",
            _FIX,
        )
        for row in repeated.drop_duplicates(_KEY).itertuples()
    ]
    settlements = settlements.drop_duplicates(_KEY, keep="first")
    settled = pd.MultiIndex.from_frame(settlements[_KEY])
    if not inputs.run.message:
        missing = metered.index.difference(settled)
        findings += [
            Finding(CHECK, f"{household} got no settlement for interval {interval}", _FIX)
            for interval, household in missing
        ]
    known = settled.isin(metered.index)
    settlements = settlements[known].assign(
        metered_energy_wh=metered.reindex(settled[known]).to_numpy(float)
    )
    findings += _stated_energies(settlements, awards)
    found = settlement_discrepancies(
        awards,
        lines,
        settlements,
        inputs.prices,
        METERED_ENERGY_TOLERANCE_WH,
        MONEY_TOLERANCE_USD,
    )
    findings += [
        Finding(
            CHECK,
            f"settlement of {row.household_id} for interval {row.interval_index}: {row.item} "
            f"{row.observed:.8g} {row.unit}, expected {row.expected:.8g} {row.unit}",
            _FIX,
        )
        for row in found.itertuples()
    ]
    return capped(findings)


def received_by_households(
    inputs: CheckInputs,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The awards, settlement lines and settlements (one row each) the candidate sent to
    households, from the probe's messages; messages that do not parse are the ``message
    schema`` check's."""
    awards, lines, settlements = [], [], []
    for message in household_messages(inputs)[0]:
        household = keys.household_of_endpoint(message["destination"])
        try:
            parsed = parse_market_message(message["payload"])
        except (ValueError, RecursionError):
            continue
        if household is None:
            continue
        if isinstance(parsed, AwardsMessage):
            awards += parsed.award_rows(household)
        elif isinstance(parsed, SettlementMessage):
            settlements.append(
                (
                    parsed.interval_index,
                    household,
                    parsed.energy_wh,
                    parsed.awarded_net_energy_wh,
                    parsed.amount_usd,
                )
            )
            lines += [
                (
                    parsed.interval_index,
                    household,
                    line.counterparty,
                    line.energy_wh,
                    line.amount_usd,
                    line.reason,
                )
                for line in parsed.lines
            ]
    return (
        pd.DataFrame(awards, columns=AWARD_COLUMNS),
        pd.DataFrame(lines, columns=[*_KEY, "counterparty", "energy_wh", "amount_usd", "reason"]),
        pd.DataFrame(
            settlements, columns=[*_KEY, "energy_wh", "awarded_net_energy_wh", "amount_usd"]
        ),
    )


def _stated_energies(settlements: pd.DataFrame, awards: pd.DataFrame) -> list[Finding]:
    """Findings for settlements whose ``energy_wh`` is not the household's metered energy or
    whose ``awarded_net_energy_wh`` is not the net of its awards."""
    signed_wh = awards["quantity_wh"].where(awards["side"] == "buy", -awards["quantity_wh"])
    awarded_wh = (
        awards.assign(signed_wh=signed_wh)
        .groupby(_KEY)["signed_wh"]
        .sum()
        .reindex(pd.MultiIndex.from_frame(settlements[_KEY]), fill_value=0)
        .to_numpy()
    )
    findings = []
    for row, awarded in zip(settlements.itertuples(), awarded_wh, strict=True):
        where = f"settlement of {row.household_id} for interval {row.interval_index}"
        if not abs(row.energy_wh - row.metered_energy_wh) <= METERED_ENERGY_TOLERANCE_WH:
            findings.append(
                Finding(
                    CHECK,
                    f"{where}: energy_wh {row.energy_wh:.8g} Wh, expected the metered "
                    f"{row.metered_energy_wh:.8g} Wh",
                    _FIX,
                )
            )
        if row.awarded_net_energy_wh != awarded:
            findings.append(
                Finding(
                    CHECK,
                    f"{where}: awarded_net_energy_wh {row.awarded_net_energy_wh} Wh, expected "
                    f"{int(awarded)} Wh (bought − sold in its awards)",
                    _FIX,
                )
            )
    return findings
