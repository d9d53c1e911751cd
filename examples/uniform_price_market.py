"""A replacement market for tefed, written only against pyhelics (plus json and numpy).

Run it in place of tefed's market by editing the market's ``exec`` line in a federation file::

    "exec": "python examples/uniform_price_market.py federation/default.json --name market"

It creates its federate from its own ``helics`` block, reads the time grid and the household
table and which ems shard hosts which household from the federation file, and honours the
contract of ``docs/interfaces.md``. It steps (phase 4, the block's ``offset``) at every gate
closure ``k·Δm − G``, where it takes ``orders`` messages, clears interval ``k``, sends ``awards``
to every household that ordered and publishes ``market/traded_energy_wh`` (and
``market/mean_trade_price_usd_per_kwh`` when energy traded); and at the last step of every
interval, where it reads every household's metered energy from ``grid/household_energy_wh``
and sends every household its ``settlement``. Households of an ems shard send and receive their
messages inside one ``batch`` per step through the shard's endpoint ``ems/<shard>``; a household
program uses its own endpoint ``household/<id>``.

Clearing rule (uniform price, per pool; pools never trade with each other)
-------------------------------------------------------------------------
Simple orders only. Bids are ranked from the highest price down, asks from the lowest up (equal
prices keep their arrival order). Walking both merit orders together, energy trades while the
bid covering it is priced at or above the ask covering it. The traded volume is where that stops;
everyone trades at one price, the midpoint of the last (marginal) bid and ask that traded, which
lies within every traded order's limit. Every fill is with the counterparty ``market``.

Settlement (the MicroTE delivery rules of docs/interfaces.md)
-------------------------------------------------------------
Awards are paid at the clearing price whatever was delivered. With ``E`` the metered energy,
``B`` and ``S`` the bought and sold awards, the deviation ``D = E − (B − S)`` is settled at the
interval's net-billing prices: ``shortfall`` = min(D, S) and ``grid_import`` for the rest of a
positive ``D`` at the import price; ``unused`` = min(−D, B) and ``grid_export`` for the rest of
a negative ``D`` at the export price. Prices are element 0 of the price feed's forecasts read
during the interval.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import helics as h
import numpy as np

POOLS = ("non_dispatchable", "dispatchable")
SIMPLE_ORDER_FIELDS = {
    "kind",
    "order_id",
    "side",
    "quantity_wh",
    "price_usd_per_kwh",
    "pool",
    "divisible",
    "expires_time_s",
}


def clear_uniform_price(
    bid_price: np.ndarray, bid_wh: np.ndarray, ask_price: np.ndarray, ask_wh: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Clear one pool at a uniform price.

    Parameters
    ----------
    bid_price, ask_price : numpy.ndarray
        Limit prices of the buy and sell orders, in arrival order [USD/kWh].
    bid_wh, ask_wh : numpy.ndarray
        Their quantities, positive integers [Wh].

    Returns
    -------
    price : float
        The uniform price (NaN when nothing trades) [USD/kWh].
    bid_fill_wh, ask_fill_wh : numpy.ndarray
        Energy awarded to each order, in the input order [Wh].

    Examples
    --------
    Bids 300 Wh at 0.14 and 200 Wh at 0.10, asks 400 Wh at 0.08 and 100 Wh at 0.12: the first
    300 Wh cross (0.14 ≥ 0.08), the next 100 Wh too (0.10 ≥ 0.08), then 0.10 < 0.12 stops it.
    The marginal pair is 0.10 / 0.08, so the price is 0.09:

    >>> bid_price, bid_wh = np.array([0.14, 0.10]), np.array([300, 200])
    >>> ask_price, ask_wh = np.array([0.08, 0.12]), np.array([400, 100])
    >>> price, bids, asks = clear_uniform_price(bid_price, bid_wh, ask_price, ask_wh)
    >>> round(price, 4), bids.tolist(), asks.tolist()
    (0.09, [300, 100], [400, 0])
    """
    bid_fill, ask_fill = np.zeros(bid_wh.size, dtype=int), np.zeros(ask_wh.size, dtype=int)
    if bid_wh.size == 0 or ask_wh.size == 0:
        return math.nan, bid_fill, ask_fill
    bid_rank = np.argsort(-bid_price, kind="stable")
    ask_rank = np.argsort(ask_price, kind="stable")
    bid_total, ask_total = np.cumsum(bid_wh[bid_rank]), np.cumsum(ask_wh[ask_rank])
    breaks = np.union1d(bid_total, ask_total)
    breaks = breaks[breaks <= min(bid_total[-1], ask_total[-1])]
    bid_at = np.searchsorted(bid_total, breaks)
    ask_at = np.searchsorted(ask_total, breaks)
    crossing = bid_price[bid_rank][bid_at] >= ask_price[ask_rank][ask_at]
    segments = int(np.argmin(crossing)) if not crossing.all() else crossing.size
    if segments == 0:
        return math.nan, bid_fill, ask_fill
    volume = breaks[segments - 1]
    marginal = segments - 1
    price = 0.5 * (bid_price[bid_rank][bid_at[marginal]] + ask_price[ask_rank][ask_at[marginal]])
    bid_fill[bid_rank] = np.clip(volume - (bid_total - bid_wh[bid_rank]), 0, bid_wh[bid_rank])
    ask_fill[ask_rank] = np.clip(volume - (ask_total - ask_wh[ask_rank]), 0, ask_wh[ask_rank])
    return float(price), bid_fill, ask_fill


class UniformPriceMarket:
    """The market's state between steps: metered energy, order books, awards, prices."""

    def __init__(self, data: dict, block: dict, federate: object):
        time = data["tefed"]["time"]
        self.step_s, self.interval_s = time["grid_step_s"], time["market_interval_s"]
        self.gate_closure_s, self.duration_s = time["gate_closure_s"], time["duration_s"]
        self.offset_s = float(block["offset"])
        self.n_intervals = self.duration_s // self.interval_s
        self.households = list(data["tefed"]["households"]["household_id"])
        self.federate = federate
        # Shard endpoint -> the households it may speak for; household -> where its mail goes.
        self.shard_households: dict[str, set[str]] = {}
        self.mailbox_of = {household: f"household/{household}" for household in self.households}
        for entry in data["federates"]:
            config = entry.get("tefed", {}).get("config", {})
            if entry.get("tefed", {}).get("role") == "ems" and config.get("interface") == "shard":
                endpoint = f"ems/{entry['name']}"
                self.shard_households[endpoint] = set(config["households"])
                self.mailbox_of.update(dict.fromkeys(config["households"], endpoint))
        self.outbox: dict[str, list[dict]] = {}
        self.meters = h.helicsFederateGetInputByTarget(federate, "grid/household_energy_wh")
        self.forecasts = [
            h.helicsFederateGetInputByTarget(
                federate, f"price_feed/{kind}_price_forecast_usd_per_kwh"
            )
            for kind in ("import", "export")
        ]
        self.endpoint = h.helicsFederateGetEndpoint(federate, "market")
        self.traded = h.helicsFederateGetPublication(federate, "market/traded_energy_wh")
        self.mean_price = h.helicsFederateGetPublication(
            federate, "market/mean_trade_price_usd_per_kwh"
        )
        self.energy_wh = np.zeros((self.n_intervals, len(self.households)))
        self.prices = np.full((self.n_intervals, 2), np.nan)
        self.books: dict[int, list[dict]] = {}
        self.awards: dict[int, list[dict]] = {}

    def run(self) -> None:
        """Step through every grid instant of the run."""
        # Tells tefed's startup watchdog that this federate has read its inputs.
        h.helicsFederateSetTag(self.federate, "tefed_startup", "ready")
        h.helicsFederateEnterExecutingMode(self.federate)
        gate_closures = range(
            self.interval_s - self.gate_closure_s, self.duration_s, self.interval_s
        )
        last_steps = range(self.interval_s - self.step_s, self.duration_s, self.interval_s)
        for time_s in sorted(set(gate_closures) | set(last_steps)):
            wanted = time_s + self.offset_s
            granted = h.helicsFederateRequestTime(self.federate, wanted)
            if abs(granted - wanted) > 1e-9:
                raise RuntimeError(f"granted t={granted} s, requested t={wanted} s")
            self.step(time_s)

    def step(self, time_s: int) -> None:
        """Read prices and orders, clear at gate closure, settle completed intervals."""
        interval = time_s // self.interval_s
        if np.isnan(self.prices[interval]).any():
            vectors = [h.helicsInputGetVector(handle) for handle in self.forecasts]
            if all(len(vector) > 0 for vector in vectors):
                self.prices[interval] = [vectors[0][0], vectors[1][0]]
        while h.helicsEndpointHasMessage(self.endpoint):
            message = h.helicsEndpointGetMessage(self.endpoint)
            source = h.helicsMessageGetSource(message)
            # An order counts as placed at the grid instant its message was sent.
            sent_s = min(int(h.helicsMessageGetTime(message)), time_s)
            for household, payload in self.unwrap(source, h.helicsMessageGetString(message)):
                self.take_orders(sent_s, household, payload)
        following = time_s + self.gate_closure_s
        if (
            following % self.interval_s == 0
            and 1 <= following // self.interval_s < self.n_intervals
        ):
            self.clear(following // self.interval_s)
        if (time_s + self.step_s) % self.interval_s == 0:
            energy_wh = np.asarray(h.helicsInputGetVector(self.meters), dtype=float)
            if energy_wh.shape != (len(self.households),) or not np.isfinite(energy_wh).all():
                raise ValueError(
                    "grid/household_energy_wh: expected one finite value per household"
                )
            self.energy_wh[interval] = energy_wh
            self.settle((time_s + self.step_s) // self.interval_s - 1)
        for mailbox, messages in self.outbox.items():
            if mailbox.startswith("household/"):
                for message in messages:
                    h.helicsEndpointSendStringTo(self.endpoint, json.dumps(message), mailbox)
            else:
                payload = {"type": "batch", "messages": messages}
                h.helicsEndpointSendStringTo(self.endpoint, json.dumps(payload), mailbox)
        self.outbox = {}

    def unwrap(self, source: str, payload: str) -> list[tuple[str, str]]:
        """``(household, orders message)`` pairs of a received message: a shard's batch holds
        several, each trusted only for a household that shard hosts."""
        if source not in self.shard_households:
            return [(source.removeprefix("household/"), payload)]
        try:
            items = json.loads(payload)["messages"]
            return [
                (item["household_id"], json.dumps(item["message"]))
                for item in items
                if item["household_id"] in self.shard_households[source]
            ]
        except (ValueError, KeyError, TypeError):
            return []

    def send(self, household: str, message: dict) -> None:
        """Queue one JSON message to a household; ``step`` sends it (in its shard's batch)."""
        mailbox = self.mailbox_of.get(household, f"household/{household}")
        if mailbox.startswith("household/"):
            self.outbox.setdefault(mailbox, []).append(message)
        else:
            self.outbox.setdefault(mailbox, []).append(
                {"household_id": household, "message": message}
            )

    def take_orders(self, time_s: int, household: str, payload: str) -> None:
        """Book the valid simple orders of one message; refuse the rest with a reason."""
        interval, orders, reason = self.check_message(time_s, household, payload)
        refusals = [("*", reason)] if reason else []
        book = self.books.setdefault(interval, []) if not reason else []
        for order in orders:
            problem = _order_problem(order, household, book)
            if problem:
                refusals.append((str(order.get("order_id", "?")), problem))
            else:
                book.append({**order, "household": household})
        if refusals:
            rejections = [{"order_id": order_id, "reason": why} for order_id, why in refusals]
            self.send(
                household,
                {"type": "rejected", "interval_index": interval, "rejections": rejections},
            )

    def check_message(
        self, time_s: int, household: str, payload: str
    ) -> tuple[int | None, list, str]:
        """The interval and orders of a message, or why it is refused whole."""
        try:
            message = json.loads(payload)
            interval, orders = message["interval_index"], message["orders"]
        except (ValueError, KeyError, TypeError) as error:
            return None, [], f"malformed orders message: {error}"
        if not isinstance(interval, int) or isinstance(interval, bool):
            return None, [], f"interval_index must be a whole number, got {interval!r}"
        if message.get("type") != "orders" or not isinstance(orders, list) or not orders:
            return interval, [], "expected type 'orders' and at least one order"
        if household not in self.households:
            return interval, [], f"unknown participant {household!r}"
        last = min(time_s // self.interval_s + 1, self.n_intervals - 1)
        if not 1 <= interval <= last:
            return interval, [], f"interval {interval} takes no orders now (1 to {last} do)"
        gate_s = interval * self.interval_s - self.gate_closure_s
        if time_s > gate_s:
            return interval, [], f"after gate closure of interval {interval} (t={gate_s} s)"
        return interval, orders, ""

    def clear(self, interval: int) -> None:
        """Clear every pool of ``interval`` at its own uniform price; send awards, publish."""
        book = self.books.pop(interval, [])
        awards: list[dict] = []
        prices = {}
        for pool in POOLS:
            bids = [o for o in book if o["side"] == "buy" and o.get("pool", POOLS[0]) == pool]
            asks = [o for o in book if o["side"] == "sell" and o.get("pool", POOLS[0]) == pool]
            price, bid_fill, ask_fill = clear_uniform_price(
                np.array([o["price_usd_per_kwh"] for o in bids], dtype=float),
                np.array([o["quantity_wh"] for o in bids], dtype=int),
                np.array([o["price_usd_per_kwh"] for o in asks], dtype=float),
                np.array([o["quantity_wh"] for o in asks], dtype=int),
            )
            if math.isnan(price):
                continue
            prices[f"pool:{pool}"] = price
            for order, fill in [
                *zip(bids, bid_fill, strict=True),
                *zip(asks, ask_fill, strict=True),
            ]:
                if fill > 0:
                    awards.append(
                        {
                            "household": order["household"],
                            "order_id": order["order_id"],
                            "side": order["side"],
                            "pool": pool,
                            "quantity_wh": int(fill),
                            "price_usd_per_kwh": price,
                            "counterparty": "market",
                        }
                    )
        self.awards[interval] = awards
        if awards:
            status = "cleared"
        elif not book:
            status = "empty"
        elif len({order["side"] for order in book}) == 1:
            status = "one_sided"
        else:
            status = "no_crossing"
        for household in sorted({order["household"] for order in book}):
            mine = [
                {k: v for k, v in a.items() if k != "household"}
                for a in awards
                if a["household"] == household
            ]
            self.send(
                household,
                {
                    "type": "awards",
                    "interval_index": interval,
                    "status": status,
                    "awards": mine,
                    "prices_usd_per_kwh": prices,
                },
            )
        bought = [a for a in awards if a["side"] == "buy"]
        traded_wh = sum(a["quantity_wh"] for a in bought)
        h.helicsPublicationPublishDouble(self.traded, float(traded_wh))
        if traded_wh > 0:
            value_usd = sum(a["quantity_wh"] * a["price_usd_per_kwh"] for a in bought)
            h.helicsPublicationPublishDouble(self.mean_price, value_usd / traded_wh)

    def settle(self, interval: int) -> None:
        """Send every household the settlement of its metered energy in ``interval``."""
        import_price, export_price = self.prices[interval]
        if not np.isfinite([import_price, export_price]).all():
            raise ValueError(f"no net-billing prices received for interval {interval}")
        index = {household: i for i, household in enumerate(self.households)}
        count = len(self.households)
        bought, sold = np.zeros(count), np.zeros(count)
        lines: list[list[dict]] = [[] for _ in range(count)]
        for award in self.awards.pop(interval, []):
            i, quantity = index[award["household"]], award["quantity_wh"]
            signed = quantity if award["side"] == "buy" else -quantity
            (bought if signed > 0 else sold)[i] += quantity
            lines[i].append(_line("market", signed, award["price_usd_per_kwh"], "trade"))
        energy = self.energy_wh[interval]
        deviation = energy - (bought - sold)
        shortfall = np.minimum(np.maximum(deviation, 0.0), sold)
        grid_import = np.maximum(deviation, 0.0) - shortfall
        unused = np.minimum(np.maximum(-deviation, 0.0), bought)
        grid_export = np.maximum(-deviation, 0.0) - unused
        for i, household in enumerate(self.households):
            for wh, price, reason in (
                (shortfall[i], import_price, "shortfall"),
                (grid_import[i], import_price, "grid_import"),
                (-unused[i], export_price, "unused"),
                (-grid_export[i], export_price, "grid_export"),
            ):
                if wh != 0.0:
                    lines[i].append(_line("grid", float(wh), float(price), reason))
            self.send(
                household,
                {
                    "type": "settlement",
                    "interval_index": interval,
                    "energy_wh": float(energy[i]),
                    "awarded_net_energy_wh": int(bought[i] - sold[i]),
                    "amount_usd": sum(line["amount_usd"] for line in lines[i]),
                    "lines": lines[i],
                },
            )


def _line(counterparty: str, energy_wh: float, price: float, reason: str) -> dict:
    """One settlement line; the household pays ``energy × price`` (received energy > 0)."""
    return {
        "counterparty": counterparty,
        "energy_wh": float(energy_wh),
        "price_usd_per_kwh": price,
        "amount_usd": energy_wh * price / 1000.0,
        "reason": reason,
    }


def _order_problem(order: object, household: str, book: list[dict]) -> str:
    """Why a simple order cannot be booked ('' when it can)."""
    if not isinstance(order, dict):
        return "an order must be a JSON object"
    if order.get("kind", "simple") != "simple":
        return f"order kind {order.get('kind')!r} is not taken by this market (it takes simple)"
    unknown = sorted(set(order) - SIMPLE_ORDER_FIELDS)
    order_id, quantity, price = (
        order.get(k) for k in ("order_id", "quantity_wh", "price_usd_per_kwh")
    )
    if unknown:
        return f"unknown fields {unknown}"
    if not isinstance(order_id, str) or not 1 <= len(order_id) <= 200:
        return "order_id must be a string of 1 to 200 characters"
    if order.get("side") not in ("buy", "sell") or order.get("pool", POOLS[0]) not in POOLS:
        return f"side must be buy or sell and pool one of {list(POOLS)}"
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not 1 <= quantity <= 1_000_000
    ):
        return "quantity_wh must be a whole number from 1 to 1000000"
    if not isinstance(price, int | float) or not math.isfinite(price):
        return "price_usd_per_kwh must be a finite number"
    if any(o["household"] == household and o["order_id"] == order_id for o in book):
        return f"duplicate order_id {order_id!r}"
    return ""


def main(argv: list[str] | None = None) -> int:
    """``python uniform_price_market.py FEDERATION_FILE --name NAME``; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("federation_file", type=Path)
    parser.add_argument("--name", default="market")
    arguments = parser.parse_args(argv)
    data = json.loads(arguments.federation_file.read_text())
    block = next(e for e in data["federates"] if e["name"] == arguments.name)["helics"]
    federate = h.helicsCreateCombinationFederateFromConfig(json.dumps(block))
    try:
        UniformPriceMarket(data, block, federate).run()
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
