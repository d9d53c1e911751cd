"""One household agent for tefed, written only against pyhelics (plus json, numpy and the
standard library).

Run it in place of one household of the built-in ems by naming it in a scenario::

    ems:
      external:
        - {household_id: h01, exec: python examples/household_agent.py}

``tefed build`` then gives it its own federate entry (``household_h01``) and appends the
federation file and ``--name household_h01`` to the command, as for tefed's own programs.

The agent creates its federate from its own ``helics`` block, finds its household id in its
endpoint name (``household/<id>``), reads its row of the federation file's household table and
the time grid, and follows ``docs/interfaces.md``: at every grid step ``t`` (HELICS time
``t + offset``, phase 2) it reads the market's messages and publishes its net power for
``[t, t + Δg)``; at the gate closure of interval ``k`` it sends simple orders for ``k``; it
steps once more at the end of the run (publishing nothing) to receive the last settlement.

Model (documented, deliberately simple)
---------------------------------------
Time of day ``h`` [hours] is the local clock time of ``tefed.time.start`` plus ``t``.

- Load: ``P_load(h) = E_d / 24 · (1 + 0.5·cos(2π (h − 19) / 24))`` [kW], with ``E_d`` the row's
  ``load_daily_energy_kwh``: an evening peak at 19:00, a night trough, ``E_d`` over a day.
- PV: ``P_pv(h) = kWp · 0.8 · max(0, sin(π (h − 6) / 12))`` [kW], with ``kWp`` the row's
  ``pv_kwp``: a clear day from 06:00 to 18:00 at an 80 % performance ratio, limited to the
  inverter (``pv_inverter_kw``) when it has one.
- Net power ``P = P_load − P_pv`` (positive: drawn from the grid); reactive power, when its
  block publishes it, ``max(P, 0)·tan(acos(pf))`` with the row's ``power_factor``.
- Orders: at ``k·Δm − G`` the agent forecasts its net energy over interval ``k`` with the same
  model and offers a surplus (``sell``) at ``export + a·(import − export)`` or bids for a
  deficit (``buy``) at ``export + b·(import − export)``, with ``a``, ``b`` the row's
  ``ask_price_fraction`` and ``bid_price_fraction`` and the prices forecast for ``k``.
  Awards and settlements are read and summed; the agent has no battery to follow its awards, so
  deviations settle with the grid.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime
from pathlib import Path

import helics as h
import numpy as np

#: Ratio of delivered to rated PV power on a clear day (losses, temperature).
PV_PERFORMANCE_RATIO = 0.8
#: Relative amplitude of the daily load cycle around its mean.
LOAD_DAILY_SWING = 0.5


def household_power_kw(hour_of_day: np.ndarray, row: dict) -> np.ndarray:
    """Net power drawn from the grid at local clock hours ``hour_of_day``.

    Parameters
    ----------
    hour_of_day : numpy.ndarray
        Local clock time [h], 0 to 24.
    row : dict
        The household's row: ``load_daily_energy_kwh`` [kWh], ``pv_kwp`` [kW],
        ``pv_inverter_kw`` [kW] (0: no inverter limit).

    Returns
    -------
    numpy.ndarray
        Net power, load − PV, positive when drawn from the grid [kW].

    Examples
    --------
    At 13:00 a household using 12 kWh a day with 5 kWp of PV draws
    0.5 · (1 + 0.5·cos(−π/2)) − 5 · 0.8 · sin(7π/12) = 0.5 − 3.8637 = −3.364 kW:

    >>> row = {"load_daily_energy_kwh": 12.0, "pv_kwp": 5.0, "pv_inverter_kw": 0.0}
    >>> round(float(household_power_kw(np.array([13.0]), row)[0]), 3)
    -3.364
    """
    load_kw = (
        row["load_daily_energy_kwh"]
        / 24.0
        * (1.0 + LOAD_DAILY_SWING * np.cos(2 * np.pi * (hour_of_day - 19.0) / 24.0))
    )
    pv_kw = (
        row["pv_kwp"]
        * PV_PERFORMANCE_RATIO
        * np.maximum(0.0, np.sin(np.pi * (hour_of_day - 6.0) / 12.0))
    )
    if row.get("pv_inverter_kw", 0.0) > 0:
        pv_kw = np.minimum(pv_kw, row["pv_inverter_kw"])
    return load_kw - pv_kw


def order_for(energy_wh: float, import_price: float, export_price: float, row: dict) -> dict:
    """The simple order for a forecast net energy.

    Parameters
    ----------
    energy_wh : float
        Forecast net energy of the interval, positive when drawn from the grid [Wh].
    import_price, export_price : float
        Net-billing prices forecast for the interval [USD/kWh].
    row : dict
        The household's row: ``bid_price_fraction`` and ``ask_price_fraction`` [-].

    Returns
    -------
    dict
        ``side``, ``quantity_wh`` [Wh] and ``price_usd_per_kwh`` [USD/kWh]; empty when the
        energy rounds to 0 Wh.

    Examples
    --------
    >>> row = {"bid_price_fraction": 0.5, "ask_price_fraction": 0.2}
    >>> order_for(-812.4, 0.15, 0.05, row)
    {'side': 'sell', 'quantity_wh': 812, 'price_usd_per_kwh': 0.07}
    """
    quantity_wh = round(abs(energy_wh))
    if quantity_wh < 1:
        return {}
    side = "buy" if energy_wh > 0 else "sell"
    fraction = row["bid_price_fraction"] if side == "buy" else row["ask_price_fraction"]
    price = export_price + fraction * (import_price - export_price)
    return {"side": side, "quantity_wh": quantity_wh, "price_usd_per_kwh": round(price, 6)}


class HouseholdAgent:
    """One household's federate: its row, its time grid, its interfaces."""

    def __init__(self, data: dict, block: dict, federate: object):
        time = data["tefed"]["time"]
        self.step_s, self.interval_s = time["grid_step_s"], time["market_interval_s"]
        self.gate_closure_s, self.duration_s = time["gate_closure_s"], time["duration_s"]
        self.offset_s = float(block["offset"])
        # HELICS seconds per simulated second: below 1 only in real-time mode.
        self.time_scale = float(time.get("helics_time_scale", 1.0))
        start = datetime.fromisoformat(time["start"])
        self.start_hour = start.hour + start.minute / 60 + start.second / 3600
        endpoint_name = block["endpoints"][0]["name"]
        self.household = endpoint_name.split("/", 1)[1]
        table = data["tefed"]["households"]
        position = table["household_id"].index(self.household)
        self.row = {column: values[position] for column, values in table.items()}
        self.federate = federate
        self.endpoint = h.helicsFederateGetEndpoint(federate, endpoint_name)
        self.power = h.helicsFederateGetPublication(
            federate, f"household/{self.household}/power_kw"
        )
        reactive_key = f"household/{self.household}/reactive_power_kvar"
        declared = {item["key"] for item in block.get("publications", [])}
        self.reactive = (
            h.helicsFederateGetPublication(federate, reactive_key)
            if reactive_key in declared
            else None
        )
        self.forecasts = [
            h.helicsFederateGetInputByTarget(
                federate, f"price_feed/{kind}_price_forecast_usd_per_kwh"
            )
            for kind in ("import", "export")
        ]
        self.bill_usd = 0.0
        self.awarded_net_wh: dict[int, int] = {}

    def power_kw(self, time_s: np.ndarray) -> np.ndarray:
        """Net power during the steps starting at ``time_s`` [kW]."""
        return household_power_kw((self.start_hour + time_s / 3600.0) % 24.0, self.row)

    def run(self) -> None:
        """Step through every grid instant, then once more at the end of the run."""
        # Tells tefed's startup watchdog that this federate has read its inputs.
        h.helicsFederateSetTag(self.federate, "tefed_startup", "ready")
        h.helicsFederateEnterExecutingMode(self.federate)
        for time_s in [*range(0, self.duration_s, self.step_s), self.duration_s]:
            wanted = time_s * self.time_scale + self.offset_s
            granted = h.helicsFederateRequestTime(self.federate, wanted)
            if abs(granted - wanted) > 1e-9:
                raise RuntimeError(f"granted t={granted} s, requested t={wanted} s")
            self.read_messages()
            if time_s == self.duration_s:
                break
            self.order_if_due(time_s)
            power_kw = float(self.power_kw(np.array([time_s]))[0])
            h.helicsPublicationPublishDouble(self.power, power_kw)
            if self.reactive is not None:
                tangent = math.tan(math.acos(self.row["power_factor"]))
                h.helicsPublicationPublishDouble(self.reactive, max(power_kw, 0.0) * tangent)
        print(
            f"household {self.household}: bill {self.bill_usd:.4f} USD, "
            f"awards in {len(self.awarded_net_wh)} interval(s)"
        )

    def read_messages(self) -> None:
        """Take in awards, settlements and rejections."""
        while h.helicsEndpointHasMessage(self.endpoint):
            message = json.loads(
                h.helicsMessageGetString(h.helicsEndpointGetMessage(self.endpoint))
            )
            if message["type"] == "awards":
                self.awarded_net_wh[message["interval_index"]] = sum(
                    a["quantity_wh"] if a["side"] == "buy" else -a["quantity_wh"]
                    for a in message["awards"]
                )
            elif message["type"] == "settlement":
                self.bill_usd += message["amount_usd"]
            elif message["type"] == "rejected":
                print(f"market rejected orders: {message['rejections']}", file=sys.stderr)

    def order_if_due(self, time_s: int) -> None:
        """At the gate closure of interval ``k``, order its forecast net energy."""
        following = time_s + self.gate_closure_s
        interval = following // self.interval_s
        if following % self.interval_s or not 1 <= interval < self.duration_s // self.interval_s:
            return
        vectors = [h.helicsInputGetVector(handle) for handle in self.forecasts]
        ahead = interval - time_s // self.interval_s
        if any(len(vector) <= ahead for vector in vectors):
            return
        start_s = interval * self.interval_s
        steps_s = np.arange(start_s, start_s + self.interval_s, self.step_s)
        energy_wh = float(self.power_kw(steps_s).sum() * self.step_s / 3.6)
        order = order_for(energy_wh, vectors[0][ahead], vectors[1][ahead], self.row)
        if order:
            message = {
                "type": "orders",
                "interval_index": int(interval),
                "orders": [{"order_id": f"{interval}-{order['side']}", **order}],
            }
            h.helicsEndpointSendStringTo(self.endpoint, json.dumps(message), "market")


def main(argv: list[str] | None = None) -> int:
    """``python household_agent.py FEDERATION_FILE --name NAME``; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("federation_file", type=Path)
    parser.add_argument("--name", required=True, help="federate name, e.g. household_h01")
    arguments = parser.parse_args(argv)
    data = json.loads(arguments.federation_file.read_text())
    block = next(e for e in data["federates"] if e["name"] == arguments.name)["helics"]
    federate = h.helicsCreateCombinationFederateFromConfig(json.dumps(block))
    try:
        HouseholdAgent(data, block, federate).run()
    except Exception as error:
        h.helicsFederateGlobalError(federate, 1, f"federate '{arguments.name}' failed: {error}")
        raise
    finally:
        h.helicsFederateDisconnect(federate)
        h.helicsFederateFree(federate)
        h.helicsCloseLibrary()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
