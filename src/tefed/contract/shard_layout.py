"""Which program hosts each household, and how household values and messages travel.

A federation's households are hosted in two ways, both written in the federation file:

- a built-in **ems shard** (``tefed.config.interface: shard``) hosts many households and
  exchanges all of their values and messages in O(1) HELICS calls per step: one vector
  publication ``ems/<shard>/power_kw`` whose elements follow the shard's ``config.households``
  list, and one endpoint ``ems/<shard>`` that sends and receives ``batch`` messages, each item a
  household's own message;
- a **household program** (``interface: household``), run in place of one built-in household,
  keeps the per-household contract: it publishes ``household/<id>/power_kw`` and owns the
  endpoint ``household/<id>``.

``ShardLayout`` is read once from the federation file by every federate that needs it. The grid
and the market gather the households' power into one array in household-table order
(`ShardLayout.gather`); the market wraps the messages it sends to households into one batch per
shard and sends the rest directly (`ShardLayout.route`); a receiver unwraps a batch into the
households' own messages after checking that the sender hosts them (`ShardLayout.unwrap`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from tefed.contract import keys
from tefed.contract.federation_file import FederationFile
from tefed.contract.messages import Message

#: The two ways of hosting households (``tefed.config.interface`` of an ems entry).
SHARD_INTERFACE = "shard"
HOUSEHOLD_INTERFACE = "household"

#: ``type`` of a message that carries several households' messages.
BATCH_TYPE = "batch"


@dataclass(frozen=True)
class Shard:
    """One ems federate and the households it hosts.

    Parameters
    ----------
    name : str
        Federate name (``ems``, ``ems_1``, …, or ``household_<id>`` for a household program).
    interface : str
        ``shard`` (vector values, batched messages) or ``household`` (per-household keys).
    household_ids : tuple of str
        Hosted households, in the order of the shard's vectors.
    table_index : numpy.ndarray
        Row of each hosted household in the federation's household table.
    """

    name: str
    interface: str
    household_ids: tuple[str, ...]
    table_index: np.ndarray

    @cached_property
    def household_set(self) -> frozenset[str]:
        """Hosted households, for membership tests."""
        return frozenset(self.household_ids)

    @property
    def is_batched(self) -> bool:
        """True for a shard that exchanges vectors and batches."""
        return self.interface == SHARD_INTERFACE

    @property
    def endpoint(self) -> str:
        """The endpoint its households' messages go to and come from."""
        if self.is_batched:
            return keys.shard_endpoint(self.name)
        return keys.household_endpoint(self.household_ids[0])

    def power_key(self) -> str:
        """Publication of its households' net power [kW]."""
        if self.is_batched:
            return keys.shard_power(self.name)
        return keys.household_power(self.household_ids[0])

    def reactive_power_key(self) -> str:
        """Publication of its households' reactive power [kvar] (optional)."""
        if self.is_batched:
            return keys.shard_reactive_power(self.name)
        return keys.household_reactive_power(self.household_ids[0])


class ShardLayout:
    """Every household's host, read from the federation file.

    Parameters
    ----------
    household_ids : sequence of str
        The household table's ids, in table order.
    shards : sequence of Shard
        The ems entries; together they host every household exactly once.
    """

    def __init__(self, household_ids: Sequence[str], shards: Sequence[Shard]):
        self.household_ids = list(household_ids)
        self.shards = list(shards)
        self._host_of: dict[str, Shard] = {}
        for shard in self.shards:
            for household in shard.household_ids:
                if household in self._host_of:
                    raise ValueError(
                        f"household {household!r} is hosted by both "
                        f"{self._host_of[household].name!r} and {shard.name!r}"
                    )
                self._host_of[household] = shard
        unhosted = [h for h in self.household_ids if h not in self._host_of]
        if unhosted:
            raise ValueError(f"households {unhosted[:5]} are hosted by no ems entry")
        self._shard_of_endpoint = {shard.endpoint: shard for shard in self.shards}

    @classmethod
    def from_federation(cls, federation: FederationFile) -> ShardLayout:
        """The layout of ``federation``'s ems entries (role ``ems``)."""
        household_ids = [str(h) for h in federation.tefed.households["household_id"]]
        row_of = {household: row for row, household in enumerate(household_ids)}
        shards = []
        for entry in federation.federate_entries():
            if entry.tefed is None or entry.tefed.role != "ems":
                continue
            config = entry.tefed.config
            missing = [field for field in ("households", "interface") if field not in config]
            if missing:
                raise ValueError(
                    f"federates[{entry.name}].tefed.config: {missing} required but missing"
                )
            hosted = tuple(str(h) for h in config["households"])
            interface = config["interface"]
            if interface not in (SHARD_INTERFACE, HOUSEHOLD_INTERFACE):
                raise ValueError(
                    f"federates[{entry.name}].tefed.config.interface: got {interface!r}; "
                    f"expected {SHARD_INTERFACE!r} or {HOUSEHOLD_INTERFACE!r}"
                )
            if interface == HOUSEHOLD_INTERFACE and len(hosted) != 1:
                raise ValueError(
                    f"federates[{entry.name}].tefed.config.households: a household program "
                    f"hosts exactly one household, got {len(hosted)}"
                )
            unknown = [h for h in hosted if h not in row_of]
            if unknown:
                raise ValueError(
                    f"federates[{entry.name}].tefed.config.households: {unknown[:5]} are not "
                    "in the household table"
                )
            shards.append(
                Shard(
                    name=entry.name,
                    interface=interface,
                    household_ids=hosted,
                    table_index=np.array([row_of[h] for h in hosted], dtype=np.int64),
                )
            )
        return cls(household_ids, shards)

    # --- values -------------------------------------------------------------------------------

    def power_keys(self) -> list[str]:
        """Publications that together carry every household's net power [kW]."""
        return [shard.power_key() for shard in self.shards]

    def reactive_power_keys(self) -> list[str]:
        """Publications that together carry every household's reactive power [kvar]."""
        return [shard.reactive_power_key() for shard in self.shards]

    def gather(self, values: Mapping[str, object], keys_of_shards: Sequence[str]) -> np.ndarray:
        """One value per household, in household-table order, from the shards' publications.

        Parameters
        ----------
        values : mapping
            Latest value of each subscribed key (vectors as arrays, doubles as floats).
        keys_of_shards : sequence of str
            The key each shard publishes the quantity on, in the order of ``shards``
            (`power_keys` or `reactive_power_keys`).

        Raises
        ------
        ValueError
            Naming the publications that are missing, of the wrong length or not finite.
        """
        gathered = np.empty(len(self.household_ids))
        problems = []
        for shard, key in zip(self.shards, keys_of_shards, strict=True):
            array = np.atleast_1d(np.asarray(values.get(key, np.nan), dtype=float))
            expected = len(shard.household_ids)
            if array.size != expected:
                problems.append(
                    f"{key!r} has {array.size} values; expected {expected} (one per household "
                    f"of {shard.name!r})"
                )
                continue
            bad = np.flatnonzero(~np.isfinite(array))
            if bad.size:
                named = [shard.household_ids[i] for i in bad[:5]]
                problems.append(
                    f"{key!r} is missing or not finite for households {named}"
                    f"{' and more' if bad.size > 5 else ''}"
                )
                continue
            gathered[shard.table_index] = array
        if problems:
            raise ValueError(
                "; ".join(problems) + "; their publishers must publish a finite value for every "
                "household at every step"
            )
        return gathered

    # --- messages -----------------------------------------------------------------------------

    def host(self, household_id: str) -> Shard:
        """The shard hosting ``household_id``."""
        return self._host_of[household_id]

    def shard(self, name: str) -> Shard:
        """The ems entry named ``name``."""
        for shard in self.shards:
            if shard.name == name:
                return shard
        raise ValueError(
            f"no ems entry named {name!r}; ems entries: {[s.name for s in self.shards]}"
        )

    def wrap_outgoing(self, shard: Shard, messages: Sequence[Message]) -> list[Message]:
        """Messages of ``shard``'s households as the shard sends them: one batch per destination.

        Each message's ``source`` is a hosted household's endpoint. A household program's
        messages are returned unchanged.
        """
        if not shard.is_batched:
            return list(messages)
        batches: dict[str, list[str]] = {}
        for message in messages:
            household = keys.household_of_endpoint(message.source)
            if household not in shard.household_set:
                raise ValueError(f"{shard.name!r} does not host the sender {message.source!r}")
            batches.setdefault(message.destination, []).append(
                _batch_item(household, message.payload)
            )
        return [
            Message(shard.endpoint, destination, _batch_payload(items))
            for destination, items in batches.items()
        ]

    def route(self, messages: Sequence[Message], source: str) -> list[Message]:
        """Messages from ``source`` to households, as they travel: one batch per shard.

        Each message's ``destination`` is a household endpoint (``household/<id>``). Messages to
        households of a batched shard are wrapped, in their order, into one ``batch`` message
        to the shard's endpoint; messages to a household program go to it directly.
        """
        batches: dict[str, list[str]] = {}
        routed = []
        for message in messages:
            household = keys.household_of_endpoint(message.destination)
            shard = self._host_of.get(household) if household is not None else None
            if shard is None or not shard.is_batched:
                routed.append(message)
                continue
            batches.setdefault(shard.name, []).append(_batch_item(household, message.payload))
        for shard in self.shards:
            items = batches.get(shard.name)
            if items:
                routed.append(Message(source, shard.endpoint, _batch_payload(items)))
        return routed

    def unwrap(self, message: Message, *, to_shard: bool) -> list[Message]:
        """The households' own messages in a received message.

        What an endpoint sends is fixed by its kind: a shard's endpoint sends and receives only
        ``batch`` messages, a household endpoint only its own messages. A batch from a shard
        (``to_shard`` false) becomes one message per item from ``household/<id>``, trusted
        only for households that shard hosts; a batch to a shard (``to_shard`` true) becomes
        one message per item to ``household/<id>``, from the batch's sender. Any other message
        is returned as it is.

        Raises
        ------
        ValueError
            When a batch is malformed, or names a household the shard does not host; the
            message names the field and the value.
        """
        if self._batching_shard(message, to_shard) is None:
            return [message]
        return [
            Message(source, destination, json.dumps(content), message.time_s)
            for source, destination, content in self.unwrap_parsed(message, to_shard=to_shard)
        ]

    def unwrap_parsed(
        self, message: Message, *, to_shard: bool
    ) -> list[tuple[str, str, str | dict[str, Any]]]:
        """`unwrap`'s messages as ``(source, destination, content)``: the items of a batch as
        the JSON objects the batch was parsed into, any other message's payload as its text.

        A receiver that parses each message anyway takes the items as they are, instead of
        each item written back to text and parsed again (half of an ems shard's step in a
        learning episode).

        Raises
        ------
        ValueError
            As `unwrap`.
        """
        shard = self._batching_shard(message, to_shard)
        if shard is None:
            return [(message.source, message.destination, message.payload)]
        unpacked = []
        for position, (household, content) in enumerate(_batch_items(message.payload)):
            if household not in shard.household_set:
                raise ValueError(
                    f"batch from {message.source!r}: messages[{position}].household_id "
                    f"{household!r} is not hosted by {shard.name!r}"
                )
            endpoint = keys.household_endpoint(household)
            if to_shard:
                unpacked.append((message.source, endpoint, content))
            else:
                unpacked.append((endpoint, message.destination, content))
        return unpacked

    def _batching_shard(self, message: Message, to_shard: bool) -> Shard | None:
        """The shard that batches which ``message`` goes to (``to_shard``) or comes from;
        None for any other message."""
        shard = self._shard_of_endpoint.get(message.destination if to_shard else message.source)
        return shard if shard is not None and shard.is_batched else None


def _batch_item(household_id: str, payload: str) -> str:
    return f'{{"household_id": {json.dumps(household_id)}, "message": {payload}}}'


def _batch_payload(items: list[str]) -> str:
    return '{"type": "batch", "messages": [' + ", ".join(items) + "]}"


def _batch_items(payload: str) -> list[tuple[str, dict[str, Any]]]:
    """``(household_id, message)`` of each item of a batch payload, the message as parsed."""
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise ValueError(f"batch is not JSON: {error}") from None
    if (
        not isinstance(data, dict)
        or set(data) != {"type", "messages"}
        or data["type"] != BATCH_TYPE
        or not isinstance(data["messages"], list)
    ):
        raise ValueError(
            "batch: expected an object with exactly the fields 'type' (\"batch\") and "
            "'messages' (a list)"
        )
    items = data["messages"]
    unpacked = []
    for position, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or set(item) != {"household_id", "message"}
            or not isinstance(item["household_id"], str)
            or not isinstance(item["message"], dict)
        ):
            raise ValueError(
                f"batch: messages[{position}] must be an object with a string 'household_id' "
                "and an object 'message'"
            )
        unpacked.append((item["household_id"], item["message"]))
    return unpacked
