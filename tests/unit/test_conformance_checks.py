"""The conformance checks as pure functions: each one passes a conforming household and names
what a broken one does wrong (hand-built observations, no HELICS)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tefed.conformance.awards import check_awards
from tefed.conformance.checks import run_checks
from tefed.conformance.observations import (
    CheckInputs,
    ExpectedInterfaces,
    RunSummary,
    on_grid,
)
from tefed.conformance.settlement import check_settlement
from tefed.contract import keys
from tefed.contract.role_interfaces import ROLE_INTERFACES
from tefed.contract.time_grid import TimeGrid
from tefed.runtime.probe import Probe, ProbeObservations

GRID = TimeGrid(datetime(2022, 6, 21, 11, tzinfo=ZoneInfo("Europe/Berlin")), 3600, 60, 900, 60)
POWER = "household/h01/power_kw"
FORECASTS = [keys.IMPORT_PRICE_FORECAST, keys.EXPORT_PRICE_FORECAST]
HOUSEHOLD_PROGRAM = ROLE_INTERFACES["household"].resolve([], ["h01"], False)
ORDERS = {
    "type": "orders",
    "interval_index": 1,
    "orders": [
        {"order_id": "1-sell", "side": "sell", "quantity_wh": 700, "price_usd_per_kwh": 0.1}
    ],
}


def message(time_s: float, payload: dict | str, destination: str = "market") -> dict:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {
        "time_s": time_s,
        "source": "household/h01",
        "destination": destination,
        "payload": text,
    }


def conforming() -> CheckInputs:
    """What the probe sees of a household that honours the contract."""
    interfaces = {
        "publications": [{"name": POWER, "type": "double", "units": "kW"}],
        "inputs": [{"name": f"_input_{i}", "type": "vector", "units": "USD/kWh"} for i in (1, 2)],
        "endpoints": [{"name": "household/h01", "type": ""}],
    }
    observations = ProbeObservations(
        interfaces=interfaces,
        subscription_targets=list(FORECASTS),
        update_times_s={POWER: [n * 60 + 0.001 for n in range(60)]},
        messages=[message(840.001, ORDERS)],
        granted_times_s=[60.001, 840.001, 3600.001],
        final={"time_s": 3601.0, "candidate_connected": False, "waited_s": 0.0},
    )
    return CheckInputs(
        role="household",
        federate="household_h01",
        households=("h01",),
        expected=ExpectedInterfaces(
            HOUSEHOLD_PROGRAM.publications,
            HOUSEHOLD_PROGRAM.subscriptions,
            HOUSEHOLD_PROGRAM.endpoints,
            period_s=60.0,
            offset_s=0.001,
        ),
        time_grid=GRID,
        observations=observations,
        run=RunSummary(exit_codes={"household_h01": 0, "grid": 0}),
    )


def with_observations(**changes: object) -> CheckInputs:
    inputs = conforming()
    inputs.observations = dataclasses.replace(inputs.observations, **changes)
    return inputs


def messages_of(inputs: CheckInputs) -> list[tuple[str, str]]:
    return [(finding.check, finding.message) for finding in run_checks(inputs)]


def test_a_conforming_household_has_no_findings():
    assert run_checks(conforming()) == []


def test_publications_are_checked_by_key_type_and_unit():
    interfaces = conforming().observations.interfaces | {
        "publications": [
            {"name": POWER, "type": "string", "units": "W"},
            {"name": "household/h01/temperature_c", "type": "double", "units": "degC"},
        ]
    }
    assert messages_of(with_observations(interfaces=interfaces)) == [
        (
            "interfaces",
            "publication 'household/h01/temperature_c' is registered but not in the helics block",
        ),
        ("interfaces", f"publication '{POWER}' has type 'string', expected 'double'"),
        ("interfaces", f"publication '{POWER}' has unit 'W', expected 'kW'"),
    ]


def test_subscriptions_are_named_by_their_targets():
    inputs = with_observations(subscription_targets=[FORECASTS[0], keys.LOSSES])
    assert messages_of(inputs) == [
        ("interfaces", f"no subscription to '{FORECASTS[1]}'"),
        ("interfaces", f"subscribes to '{keys.LOSSES}', which the helics block does not"),
    ]


def test_without_targets_subscriptions_are_counted_by_type_and_unit():
    interfaces = conforming().observations.interfaces | {
        "inputs": [{"name": "_input_1", "type": "vector", "units": "USD/kWh"}]
    }
    inputs = with_observations(interfaces=interfaces, subscription_targets=None)
    assert messages_of(inputs) == [
        (
            "interfaces",
            "1 subscription(s) of type vector [USD/kWh] missing; the helics block subscribes to "
            f"{FORECASTS[0]}, {FORECASTS[1]}",
        )
    ]


def test_a_missing_endpoint_and_an_unregistered_federate():
    interfaces = conforming().observations.interfaces | {"endpoints": []}
    assert messages_of(with_observations(interfaces=interfaces)) == [
        ("interfaces", "endpoint 'household/h01' is not registered")
    ]
    inputs = with_observations(interfaces=None)
    inputs.unpublished_targets = (POWER, "household/h02/power_kw")
    assert messages_of(inputs) == [
        (
            "interfaces",
            f"publication '{POWER}' is not registered (its subscribers found no publisher)",
        )
    ]


def test_values_that_are_not_finite_are_named_with_their_time():
    inputs = with_observations(
        non_finite_values=[{"key": POWER, "time_s": 3600.001, "value": "nan"}]
    )
    assert messages_of(inputs) == [("finite values", f"'{POWER}' published nan at t=3600.001 s")]


def test_updates_messages_and_grants_off_the_grid_are_named():
    inputs = conforming()
    inputs.observations.update_times_s[POWER].append(90.001)
    inputs.observations.messages.append(message(845.0, ORDERS))
    inputs.observations.granted_times_s.append(30.001)
    assert messages_of(inputs) == [
        ("time grid", "granted time at t=30.001 s is off the grid"),
        ("time grid", f"value of '{POWER}' at t=90.001 s is off the grid"),
        ("time grid", "message to 'market' at t=845 s is off the grid"),
    ]


def test_more_findings_than_shown_are_counted():
    inputs = conforming()
    inputs.observations.update_times_s[POWER] += [90.001 + 60 * n for n in range(8)]
    found = messages_of(inputs)
    assert len(found) == 7
    assert found[-1] == ("time grid", "... and 2 more like these")


@given(
    steps=st.integers(min_value=0, max_value=60),
    offset_s=st.sampled_from([0.0, 0.001, 0.002, 0.003]),
    shift_s=st.floats(min_value=1e-4, max_value=60 - 1e-4),
)
def test_only_whole_steps_past_the_offset_are_on_the_grid(steps, offset_s, shift_s):
    assert on_grid(steps * 60 + offset_s, 60.0, offset_s, 3600.0)
    assert not on_grid(steps * 60 + offset_s + shift_s, 60.0, offset_s, 3600.0)


def test_missed_steps_are_counted_only_for_a_completed_run():
    inputs = conforming()
    inputs.observations.update_times_s[POWER] = [
        time_s
        for time_s in inputs.observations.update_times_s[POWER]
        if time_s not in (600.001, 660.001)
    ]
    assert messages_of(inputs) == [
        (
            "every step",
            f"'{POWER}' was not published at 2 of the 60 instants it is due (first t=600 s)",
        )
    ]
    inputs.run = RunSummary({"household_h01": 3}, "federate 'grid' failed", "grid")
    assert "every step" not in {check for check, _ in messages_of(inputs)}


def test_messages_must_parse_and_go_to_the_market():
    broken = {"type": "orders", "interval_index": 1, "orders": [{"order_id": "a"}]}
    inputs = with_observations(messages=[message(840.001, broken), message(840.001, ORDERS, "h02")])
    assert messages_of(inputs) == [
        (
            "message schema",
            "message to 'market' at t=840.001 s: orders.0.side: required but missing; "
            "orders.0.quantity_wh: required but missing; "
            "orders.0.price_usd_per_kwh: required but missing",
        ),
        ("message schema", "message to 'h02' at t=840.001 s: a household sends only to 'market'"),
    ]


def test_a_market_candidate_must_send_market_messages_to_households():
    inputs = conforming()
    inputs.role = "market"
    inputs.observations.messages = [message(840.001, ORDERS, "household/h01")]
    assert messages_of(inputs) == [
        (
            "message schema",
            "message to 'household/h01' at t=840.001 s: not a market message: expected a JSON "
            "object with type one of ['awards', 'day_ahead_awards', 'rejected', 'settlement'], "
            "got type 'orders'",
        )
    ]


DEEP = "[" * 20_000 + "]" * 20_000  # 40 kB, under the 64,000-byte limit of a message
TOO_DEEP = (
    "malformed message: JSON nested too deeply to parse (maximum recursion depth exceeded "
    "while decoding a JSON array from a unicode string)"
)


def test_json_nested_too_deeply_or_with_too_long_a_number_is_malformed():
    # json raises RecursionError (not a ValueError) for the first and ValueError (not a
    # JSONDecodeError) for the second; the message schema and gate closure checks crashed.
    long_number = '{"type": "orders", "interval_index": ' + "9" * 5000 + ', "orders": []}'
    inputs = with_observations(messages=[message(840.001, DEEP), message(840.001, long_number)])
    found = messages_of(inputs)
    assert found[0] == ("message schema", f"message to 'market' at t=840.001 s: {TOO_DEEP}")
    assert found[1][0] == "message schema" and "integer string conversion" in found[1][1]
    assert len(found) == 2


def test_a_market_message_nested_too_deeply_is_malformed():
    inputs = market_candidate([line("market", 1000.0, 0.10, "trade")], 0.10)
    inputs.observations.messages.append(
        {**message(1740.003, DEEP, "household/h01"), "source": "market"}
    )
    schema = [m for check, m in messages_of(inputs) if check == "message schema"]
    assert schema == [f"message to 'household/h01' at t=1740.003 s: {TOO_DEEP}"]


def test_late_orders_are_found_from_send_times_without_a_market_table():
    late = dict(ORDERS, interval_index=2)
    inputs = with_observations(messages=[message(1800.001, late)])
    assert messages_of(inputs) == [
        (
            "gate closure",
            "orders for interval 2 arrived at t=1800 s, after its gate closed at t=1740 s",
        )
    ]


def test_the_market_table_gives_late_and_other_refused_orders():
    inputs = conforming()
    inputs.market_orders = pd.DataFrame(
        {
            "interval_index": [2, 2, 3, 3],
            "participant": ["h01", "h02", "h01", "h01"],
            "order_id": ["*", "*", "3-buy", "3-x"],
            "received_time_s": [1800, 1800, 2640, 2640],
            "status": ["rejected", "rejected", "rejected", "accepted"],
            "reason": [
                "after gate closure of interval 2 (t=1740 s)",
                "after gate closure of interval 2 (t=1740 s)",
                "duplicate order_id '3-buy' for interval 3",
                "",
            ],
        }
    )
    assert messages_of(inputs) == [
        (
            "gate closure",
            "orders for interval 2 arrived at t=1800 s, after its gate closed at t=1740 s",
        ),
        (
            "market refusals",
            "order '3-buy' of h01 at t=2640 s refused: duplicate order_id '3-buy' for interval 3",
        ),
    ]


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            RunSummary(
                {"household_h01": 1},
                "federate 'household_h01' exited with code 1\n  log",
                "household_h01",
            ),
            [
                "'household_h01' failed and ended the run: federate 'household_h01' exited with "
                "code 1"
            ],
        ),
        (
            RunSummary(
                {"household_h01": 3},
                "federation stalled: 'household_h01' computing",
                "household_h01",
                stalled=True,
            ),
            [
                "the run stalled waiting for 'household_h01': federation stalled: 'household_h01' "
                "computing"
            ],
        ),
        (
            RunSummary(
                {"household_h01": 3}, "inputs ['household/h01/power_kw'] not finite", "grid"
            ),
            [
                "the run did not complete, 'grid' ended it: inputs ['household/h01/power_kw'] not "
                "finite",
                "'household_h01' exited with code 3",
            ],
        ),
    ],
)
def test_a_run_that_does_not_finish_names_who_ended_it(run: RunSummary, expected: list[str]):
    inputs = conforming()
    inputs.run = run
    assert [message for check, message in messages_of(inputs) if check == "finishing"] == expected


STARTUP_STALL = (
    "federation stalled at startup: federate 'ems' waited more than 60 s "
    "(runtime.startup_timeout_s) without another federate getting ready to start; not yet "
    "ready: 'household_h01', 'conformance_probe'"
)


def ended_during_startup(joined: bool | None) -> CheckInputs:
    """What the probe observed of a candidate whose run ended during start-up: nothing but
    whether it saw the candidate join (``joined``; None when it had not asked yet)."""
    return with_observations(
        interfaces="Core has terminated",
        subscription_targets=None,
        update_times_s={},
        messages=[],
        granted_times_s=[],
        final=None,
        candidate_joined=joined,
    )


@pytest.mark.parametrize(
    ("joined", "exit_code", "stalled", "expected"),
    [
        (
            False,
            0,
            True,
            "'household_h01' never joined the federation: its process exited with code 0 "
            f"before creating its federate; {STARTUP_STALL}",
        ),
        (
            False,
            -15,
            True,
            "'household_h01' never joined the federation: its process was still running when "
            f"the run was stopped (exit code -15); {STARTUP_STALL}",
        ),
        (
            True,
            -15,
            True,
            "'household_h01' never entered executing mode: its process was still running when "
            f"the run was stopped (exit code -15); {STARTUP_STALL}",
        ),
        (
            False,
            1,
            False,
            "'household_h01' never joined the federation: its process exited with code 1 "
            "before creating its federate; federate 'household_h01' exited with code 1",
        ),
    ],
)
def test_a_candidate_that_never_joins_is_named_with_its_exit_code(
    joined: bool, exit_code: int, stalled: bool, expected: str
):
    # The probe's query of the candidate's interfaces failed once the federation had ended:
    # its error text is not an answer (it crashed the interfaces check).
    inputs = ended_during_startup(joined)
    assert inputs.observations.interfaces is None
    assert inputs.observations.errors == ["interfaces of the candidate: 'Core has terminated'"]
    message = STARTUP_STALL if stalled else "federate 'household_h01' exited with code 1"
    exit_codes = {"household_h01": exit_code, "grid": 3}
    inputs.run = RunSummary(exit_codes, f"{message}\n  log", "household_h01", stalled=stalled)
    interfaces = (
        "'household_h01' registered no interfaces: it never joined the federation"
        if not joined
        else "the broker could not be asked what the candidate registered (the run ended "
        "during start-up)"
    )
    assert messages_of(inputs) == [("interfaces", interfaces), ("finishing", expected)]


@pytest.mark.parametrize("joined", [False, None])
def test_a_candidate_that_exits_before_the_start_is_named_whether_or_not_seen_joining(
    joined: bool | None,
):
    # tefed run ends the run a second after the exit: the probe may not have asked the broker
    # about the candidate yet (joined None), and the finding still says what happened.
    inputs = ended_during_startup(joined)
    left = (
        "federate 'household_h01' exited with code 0 before the federation started (no "
        "federate had entered executing mode): a federate must join the federation"
    )
    inputs.run = RunSummary({"household_h01": 0, "grid": -15}, f"{left}\n  log", "household_h01")
    (finishing,) = [message for check, message in messages_of(inputs) if check == "finishing"]
    what = "never joined the federation" if joined is False else "never entered executing mode"
    before = "creating its federate" if joined is False else "entering executing mode"
    assert finishing == (
        f"'household_h01' {what}: its process exited with code 0 before {before}; {left}"
    )


def test_the_probe_waits_for_the_startup_watchdog_and_notes_who_never_joined(
    monkeypatch: pytest.MonkeyPatch,
):
    # The candidate is unknown to the broker (404) until the federation ends (410): the probe
    # stops waiting then, without tagging itself ready first (that would restart the built-in
    # federates' startup count), and records that the candidate never joined.
    probe = Probe.__new__(Probe)
    probe._others, probe._candidate_name = ["grid", "household_h01"], "household_h01"
    probe._startup_timeout_s = 5.0
    probe.observations = ProbeObservations()
    answers = iter(
        [{"error": {"code": 404, "message": "query not valid"}}] * 20
        + [{"error": {"code": 410, "message": "Core has terminated"}}]
    )

    def ask(target: str, text: str, deadline_s: float) -> object:
        return True if target == "grid" else next(answers)

    monkeypatch.setattr(probe, "_ask", ask)
    probe._await_others_at_barrier()
    assert next(answers, "all used") == "all used"
    assert probe.observations.candidate_joined is False
    probe._startup_timeout_s, probe.observations = 0.2, ProbeObservations()
    monkeypatch.setattr(probe, "_ask", lambda target, text, deadline_s: False)
    probe._await_others_at_barrier()  # joined, never initializing: gives up after 2 × 0.2 s
    assert probe.observations.candidate_joined is True


@pytest.mark.parametrize(
    ("exit_code", "time_limit_reached", "connected", "expected"),
    [
        (
            -15,
            False,
            True,
            "'household_h01' was still connected 10 s after every other federate had finished",
        ),
        (0, False, True, "'household_h01' exited without disconnecting its federate"),
        (
            -15,
            True,
            False,
            "'household_h01' disconnected but its process kept running until the "
            "wall-clock limit stopped it",
        ),
    ],
)
def test_a_candidate_that_does_not_disconnect_or_exit(
    exit_code: int, time_limit_reached: bool, connected: bool, expected: str
):
    inputs = with_observations(
        final={"time_s": 3601.0, "candidate_connected": connected, "waited_s": 10.0}
    )
    message = "wall-clock limit of 60 s reached" if time_limit_reached else ""
    inputs.run = RunSummary({"household_h01": exit_code}, message, None, time_limit_reached)
    assert messages_of(inputs) == [("disconnecting", expected)]


def test_observations_survive_their_json_file_and_roles_are_checked():
    observations = conforming().observations
    observations.non_finite_values.append({"key": POWER, "time_s": 60.001, "value": "nan"})
    assert ProbeObservations.from_json_text(observations.to_json_text()) == observations
    inputs = conforming()
    inputs.role = "broker"
    with pytest.raises(ValueError, match="role: got 'broker'"):
        run_checks(inputs)


def market_candidate(settlement_lines: list[dict], amount_usd: float) -> CheckInputs:
    """A market candidate that awarded h01 a 1000 Wh purchase at 0.10 USD/kWh in interval 1
    and settled its 1200 Wh with ``settlement_lines``; interval 0 settled by net billing."""
    awards = {
        "type": "awards",
        "interval_index": 1,
        "status": "cleared",
        "awards": [
            {
                "order_id": "1-buy",
                "side": "buy",
                "quantity_wh": 1000,
                "price_usd_per_kwh": 0.10,
                "counterparty": "market",
            }
        ],
    }
    settlements = [
        {
            "type": "settlement",
            "interval_index": 0,
            "energy_wh": 500.0,
            "awarded_net_energy_wh": 0,
            "amount_usd": 0.15,
            "lines": [line("grid", 500.0, 0.30, "grid_import")],
        },
        {
            "type": "settlement",
            "interval_index": 1,
            "energy_wh": 1200.0,
            "awarded_net_energy_wh": 1000,
            "amount_usd": amount_usd,
            "lines": settlement_lines,
        },
    ]
    sent = [
        {**message(840.003, awards, "household/h01"), "source": "market"},
        *(
            {**message(t, s, "household/h01"), "source": "market"}
            for t, s in ((840.003, settlements[0]), (1740.003, settlements[1]))
        ),
    ]
    return dataclasses.replace(
        with_observations(messages=sent),
        role="market",
        federate="market",
        households=(),
        household_intervals=pd.DataFrame(
            {"interval_index": [0, 1], "household_id": "h01", "energy_wh": [500.0, 1200.0]}
        ),
        prices=pd.DataFrame(
            {
                "interval_index": [0, 1],
                "import_price_usd_per_kwh": [0.30, 0.30],
                "export_price_usd_per_kwh": [0.05, 0.05],
            }
        ),
    )


def line(counterparty: str, energy_wh: float, price: float, reason: str) -> dict:
    return {
        "counterparty": counterparty,
        "energy_wh": energy_wh,
        "price_usd_per_kwh": price,
        "amount_usd": energy_wh / 1000 * price,
        "reason": reason,
    }


def test_a_market_that_settles_by_the_rules_passes_the_settlement_check():
    lines = [line("market", 1000.0, 0.10, "trade"), line("grid", 200.0, 0.30, "grid_import")]
    assert check_settlement(market_candidate(lines, 0.16)) == []


@pytest.mark.parametrize(
    ("lines", "amount_usd", "expected"),
    [
        (
            [line("market", 1000.0, 0.15, "trade"), line("grid", 200.0, 0.30, "grid_import")],
            0.21,
            [
                "settlement of h01 for interval 1: trade payment 0.15 USD, expected 0.1 USD",
                "settlement of h01 for interval 1: total 0.21 USD, expected 0.16 USD",
            ],
        ),
        (
            [line("market", 1000.0, 0.10, "trade"), line("grid", 200.0, 0.05, "grid_import")],
            0.11,
            [
                "settlement of h01 for interval 1: grid_import payment 0.01 USD, expected 0.06 USD",
                "settlement of h01 for interval 1: total 0.11 USD, expected 0.16 USD",
            ],
        ),
    ],
)
def test_a_market_that_charges_wrongly_is_named_with_expected_and_observed(
    lines: list[dict], amount_usd: float, expected: list[str]
):
    findings = check_settlement(market_candidate(lines, amount_usd))
    assert [(f.check, f.message) for f in findings] == [("settlement", m) for m in expected]
    assert all("import price" in f.fix for f in findings)


def test_missing_settlements_and_wrong_stated_energies_are_named():
    inputs = market_candidate([], 0.0)
    inputs.observations.messages[2]["payload"] = json.dumps(
        json.loads(inputs.observations.messages[2]["payload"])
        | {"energy_wh": 1100.0, "awarded_net_energy_wh": 900}
    )
    messages = [f.message for f in check_settlement(inputs)][:2]
    assert messages == [
        "settlement of h01 for interval 1: energy_wh 1100 Wh, expected the metered 1200 Wh",
        "settlement of h01 for interval 1: awarded_net_energy_wh 900 Wh, expected 1000 Wh "
        "(bought − sold in its awards)",
    ]
    inputs.observations.messages.pop()
    assert [f.message for f in check_settlement(inputs)] == ["h01 got no settlement for interval 1"]


def peer_market(bought_wh: int, sold_wh: int = 300) -> CheckInputs:
    """A market candidate that received h01's 300 Wh bid and h02's 500 Wh ask for interval 1
    and awarded h01 ``bought_wh`` and h02 ``sold_wh`` of one trade at 0.10 USD/kWh."""
    bid = {"order_id": "1-buy", "side": "buy", "quantity_wh": 300, "price_usd_per_kwh": 0.15}
    ask = {"order_id": "1-sell", "side": "sell", "quantity_wh": 500, "price_usd_per_kwh": 0.08}
    received = [
        {**message(840.001, {**ORDERS, "orders": [order]}), "source": f"household/{household}"}
        for household, order in (("h01", bid), ("h02", ask))
    ]
    sent = [
        {
            **message(
                840.003,
                {
                    "type": "awards",
                    "interval_index": 1,
                    "status": "cleared",
                    "awards": [
                        {
                            "order_id": f"1-{side}",
                            "side": side,
                            "quantity_wh": quantity_wh,
                            "price_usd_per_kwh": 0.10,
                            "counterparty": counterparty,
                        }
                    ],
                },
                f"household/{household}",
            ),
            "source": "market",
        }
        for household, side, quantity_wh, counterparty in (
            ("h01", "buy", bought_wh, "h02"),
            ("h02", "sell", sold_wh, "h01"),
        )
    ]
    return dataclasses.replace(
        with_observations(messages=sent, received_messages=received),
        role="market",
        federate="market",
        households=(),
    )


def test_a_market_whose_awards_fill_the_orders_passes_the_awards_check():
    assert check_awards(peer_market(300)) == []


def test_a_market_that_awards_more_than_ordered_or_sold_is_named():
    # Each buyer got its order plus 100 Wh while its seller sold only the matched amount; the
    # settlements follow the awards, so only the awards show it.
    findings = check_awards(peer_market(400))
    assert [(f.check, f.message) for f in findings] == [
        (
            "awards",
            "awards of h01 for interval 1: order '1-buy' is awarded 400 Wh, more than its 300 Wh",
        ),
        (
            "awards",
            "interval 1: households were awarded 400 Wh bought from other households but 300 Wh "
            "sold to them, expected equal energy",
        ),
        (
            "awards",
            "interval 1: trade payments between 'h01' and 'h02' in pool 'non_dispatchable' do "
            "not cancel: they sum to 0.01 USD (from the awards)",
        ),
        (
            "awards",
            "interval 1: trade payments do not cancel: they sum to 0.01 USD, expected 0 (from the "
            "awards)",
        ),
    ]
    assert all("at most its quantity" in f.fix for f in findings)
    # A seller's side that exceeds its ask alone, the pair balanced, within the order quantity:
    assert [f.message for f in check_awards(peer_market(600, 600))] == [
        "awards of h01 for interval 1: order '1-buy' is awarded 600 Wh, more than its 300 Wh",
        "awards of h02 for interval 1: order '1-sell' is awarded 600 Wh, more than its 500 Wh",
    ]
