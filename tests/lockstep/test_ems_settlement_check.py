"""The ems checks that the market settled every household's last interval (stepped directly, no
HELICS): a market that stops settling is named at the start of the next interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from federations import short_scenario_data, write_federation

from tefed.contract import keys
from tefed.contract.federation_file import load_federation_file
from tefed.contract.logic import FederateContext, Message, MissingMessagesError, StepInputs
from tefed.contract.messages import SettlementMessage
from tefed.federates.ems.logic import EmsFederate

#: Price forecasts of the whole run, as the price feed publishes them [USD/kWh].
PRICES = {
    keys.IMPORT_PRICE_FORECAST: np.full(8, 0.30),
    keys.EXPORT_PRICE_FORECAST: np.full(8, 0.08),
    keys.WHOLESALE_PRICE_FORECAST: np.full(8, 0.10),
}


@pytest.fixture
def ems(tmp_path: Path) -> tuple[EmsFederate, list[str]]:
    """The built-in ems of the short scenario (two hours, 900 s intervals, 60 s steps, twelve
    households in one shard), initialized; and its households' ids."""
    path = write_federation(tmp_path, short_scenario_data())
    federation = load_federation_file(path)
    logic = EmsFederate()
    logic.initialize(
        FederateContext(
            name="ems", federation=federation, entry=federation.entry("ems"), base_dir=tmp_path
        )
    )
    return logic, list(federation.entry("ems").tefed.config["households"])


def settlements(interval: int, households: list[str]) -> list[Message]:
    """The market's settlement of ``interval`` for each of ``households`` (nothing traded)."""
    return [
        Message(
            source=keys.MARKET_ENDPOINT,
            destination=keys.household_endpoint(household),
            payload=SettlementMessage(
                interval_index=interval,
                energy_wh=100.0,
                awarded_net_energy_wh=0,
                amount_usd=0.03,
                lines=[],
            ).model_dump_json(),
        )
        for household in households
    ]


def step_through(logic: EmsFederate, first_s: int, last_s: int, messages=()) -> None:
    """Step ``logic`` at every grid step from ``first_s`` to ``last_s`` [s], ``messages``
    arriving at the first."""
    for time_s in range(first_s, last_s + 1, 60):
        logic.step(time_s, StepInputs(values=PRICES, messages=list(messages)))
        messages = ()


def test_households_the_market_did_not_settle_are_named_at_the_next_interval(ems):
    logic, households = ems
    step_through(logic, 0, 840)
    with pytest.raises(MissingMessagesError) as raised:
        logic.step(900, StepInputs(values=PRICES, messages=settlements(0, households[:3])))
    error = raised.value
    assert (error.endpoint, error.time_s) == (keys.MARKET_ENDPOINT, 900)
    # Twelve households, three settled: five named, the other four counted.
    assert error.what == (f"settlement of interval 0 for households {households[3:8]} and 4 more")


def test_one_household_left_out_is_named_alone(ems):
    logic, households = ems
    step_through(logic, 0, 840)
    others = households[:5] + households[6:]
    with pytest.raises(MissingMessagesError) as raised:
        logic.step(900, StepInputs(values=PRICES, messages=settlements(0, others)))
    assert raised.value.what == f"settlement of interval 0 for households {[households[5]]}"


def test_a_market_that_settles_every_interval_passes_to_the_end_of_the_run(ems):
    logic, households = ems
    # Settlements come during the next interval's first step; nothing is checked within it.
    step_through(logic, 0, 840)
    for interval in range(7):
        start_s = 900 * (interval + 1)
        step_through(logic, start_s, start_s + 840, settlements(interval, households))
    # The end of the run checks the last interval too.
    with pytest.raises(MissingMessagesError) as raised:
        logic.step(7200, StepInputs(values=PRICES))
    assert raised.value.time_s == 7200 and "interval 7 " in raised.value.what
    logic.step(7200, StepInputs(values=PRICES, messages=settlements(7, households)))


def test_a_settlement_that_comes_late_in_the_interval_is_still_counted(ems):
    logic, households = ems
    step_through(logic, 0, 840)
    logic.step(900, StepInputs(values=PRICES, messages=settlements(0, households)))
    # Interval 1's settlements arrive at its last step, before the check at 1800 s.
    step_through(logic, 960, 1680)
    logic.step(1740, StepInputs(values=PRICES, messages=settlements(1, households)))
    logic.step(1800, StepInputs(values=PRICES))
