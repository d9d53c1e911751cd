"""``summary.json`` as typed objects: the KPI fields by name and unit, every other key kept.

Each section is a pydantic model whose fields are the KPIs README "Results" describes; a key the
model does not name (a mechanism's own statistics, a key a later tefed adds) is kept in the
model's ``model_extra`` and still reachable as an attribute. A value the run could not compute
(NaN, written as ``null``) or a section a run did not produce (an incomplete run, a run without
a market) is None.

Examples
--------
>>> summary = RunSummary.model_validate(
...     {"scenario": "demo", "seed": 1, "community": {"self_sufficiency_pct": 58.0},
...      "new_kpi_usd": 2.5})
>>> summary.community.self_sufficiency_pct, summary.new_kpi_usd, summary.market is None
(58.0, 2.5, True)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    """A part of the summary: named KPIs, and whatever else the file holds beside them."""

    model_config = ConfigDict(extra="allow", frozen=True)


class HouseholdKpis(_Section):
    """One household's KPIs."""

    strategy: str | None = None
    #: What the household paid over the run, its settlements summed [USD].
    bill_usd: float | None = None
    #: What it would have paid under net billing without trading [USD].
    baseline_bill_usd: float | None = None
    #: ``baseline_bill_usd - bill_usd`` [USD] (T-REX's measure).
    income_advantage_usd: float | None = None
    #: Discharged energy over battery capacity [-].
    battery_equivalent_full_cycles: float | None = None
    #: Stored energy at the end minus at the start [kWh].
    battery_stored_energy_change_kwh: float | None = None
    #: That change at the run's mean export price [USD].
    battery_stored_energy_value_usd: float | None = None
    voltage_min_pu: float | None = None
    voltage_max_pu: float | None = None


class StoredEnergy(_Section):
    """The batteries' change of stored energy over the run and what it is worth."""

    price_usd_per_kwh: float | None = None
    price_basis: str | None = None
    change_kwh: float | None = None
    value_usd: float | None = None


class CommunityKpis(_Section):
    """Energy at the community's boundary."""

    households_counted: int | None = None
    load_kwh: float | None = None
    pv_kwh: float | None = None
    community_import_kwh: float | None = None
    community_export_kwh: float | None = None
    #: ``100 (1 - import / load)`` [%].
    self_sufficiency_pct: float | None = None
    #: ``100 (1 - export / PV)`` [%].
    self_consumption_pct: float | None = None


class PccKpis(_Section):
    """Power and voltage at the point of common coupling (the substation)."""

    substation_import_kwh: float | None = None
    substation_export_kwh: float | None = None
    peak_import_kw: float | None = None
    peak_export_kw: float | None = None
    losses_kwh: float | None = None
    losses_pct: float | None = None
    voltage_min_pu: float | None = None
    voltage_max_pu: float | None = None


class VoltageKpis(_Section):
    """Household service voltages against the configured range and limit."""

    voltage_min_pu: float | None = None
    voltage_max_pu: float | None = None
    range_low_pu: float | None = None
    range_high_pu: float | None = None
    upper_limit_pu: float | None = None
    outside_range_household_minutes: float | None = None
    above_upper_limit_household_minutes: float | None = None
    outside_ansi_range_a_household_minutes: float | None = None


class WelfareKpis(_Section):
    """Market welfare and what it is made of."""

    welfare_usd: float | None = None
    participants_usd: float | None = None
    grid_cost_usd: float | None = None
    day_ahead_welfare_usd: float | None = None
    real_time_welfare_usd: float | None = None
    definition: str | None = None


class MarketKpis(_Section):
    """Traded energy, prices and welfare of the market."""

    mechanism: str | None = None
    trades: int | None = None
    traded_energy_kwh: float | None = None
    min_trade_price_usd_per_kwh: float | None = None
    mean_trade_price_usd_per_kwh: float | None = None
    max_trade_price_usd_per_kwh: float | None = None
    volume_weighted_price_usd_per_kwh: float | None = None
    sold_to_counterparty_kwh: float | None = None
    intervals_cleared: int | None = None
    intervals_with_trades: int | None = None
    orders: int | None = None
    rejected_orders: int | None = None
    pools: dict[str, dict[str, Any]] = {}
    welfare: WelfareKpis | None = None
    consumer_energy_kwh: float | None = None
    consumer_price_usd_per_kwh: float | None = None


class GridKpis(_Section):
    """Feeder statistics: power flow, node voltages, loading, unbalance, tap changes."""

    power_flow: dict[str, Any] = {}
    node_voltage: dict[str, Any] = {}
    loading: dict[str, Any] = {}
    unbalance: dict[str, Any] = {}
    tap_changes: dict[str, Any] = {}


class Checks(_Section):
    """Balance and ledger checks (every ``*_ok`` and ``*_within_limits`` should be true)."""

    energy_balance_max_abs_error_wh: float | None = None
    energy_balance_ok: bool | None = None
    settlement_ok: bool | None = None
    state_of_charge_within_limits: bool | None = None

    @property
    def all_passed(self) -> bool | None:
        """Whether every verdict of the checks holds (None when there is none)."""
        verdicts = [
            value
            for key, value in self.model_dump().items()
            if key.endswith(("_ok", "_within_limits")) and value is not None
        ]
        return all(verdicts) if verdicts else None


class Incomplete(_Section):
    """What an incomplete run's summary covers, and why the run stopped."""

    completed_intervals: int = 0
    run_intervals: int | None = None
    completed_until_s: int = 0
    state: str | None = None
    failed_federate: str | None = None
    message: str | None = None
    summary_error: str | None = None
    plots_error: str | None = None


class RunMetadata(_Section):
    """Versions, source revision and wall time of the run."""

    run_id: str | None = None
    started_at: str | None = None
    wall_time_s: float | None = None
    versions: dict[str, str | None] = {}
    git_sha: str | None = None
    federates: dict[str, dict[str, Any]] = {}
    results: str | None = None


class RunSummary(_Section):
    """The whole ``summary.json`` of a run."""

    scenario: str
    seed: int | None = None
    time: dict[str, Any] = {}
    households: dict[str, HouseholdKpis] = {}
    community_bill_usd: float | None = None
    community_baseline_bill_usd: float | None = None
    community_income_advantage_usd: float | None = None
    stored_energy: StoredEnergy | None = None
    community_bill_less_stored_energy_usd: float | None = None
    community: CommunityKpis | None = None
    pcc: PccKpis | None = None
    grid: GridKpis | None = None
    voltage: VoltageKpis | None = None
    market: MarketKpis | None = None
    checks: Checks | None = None
    metadata: RunMetadata | None = None
    incomplete: Incomplete | None = None
