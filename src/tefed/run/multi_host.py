"""One federation over several hosts: each host's ``tefed run --only NAMES`` starts a part of it.

The main host runs ``tefed run FILE --only grid,market,price_feed,ems_1``: it starts the
broker, listening on every network interface (HELICS's ``--external``) on the file's broker
port (``--broker-port`` to choose another), and the federates named. Every other host runs
``tefed run FILE --only ems_2 --broker-address MAIN_HOST[:PORT]``: it starts no broker, and its
federates join the main host's over HELICS's ZeroMQ core (``broker_address`` in their
``helics`` blocks). Every host reads the same federation file; each keeps the whole list of
federates, so that the stall watchdogs ask every peer, wherever it runs.

Ports (HELICS 3.6 ``ZmqComms``): the broker binds its port P and P + 1 (requests for ports);
each federate's core binds one port of its own, which it asks the broker for unless its block
sets ``localport``. The broker hands them out per host from P + 5 upward without knowing what
else that host uses, so a joining host names them itself (``--local-port FIRST``: its
federates take FIRST, FIRST + 1, … in ``--only`` order) and opens them to the main host.

Results: each host writes its own run folder, with the tables, logs and timing of the
federates it ran, and ends ``partial`` (`tefed.contract.run_folder`), as no host alone has every
built-in federate done. ``tefed report MAIN_FOLDER --merge OTHER_FOLDER`` (`merge_host_folder`)
copies another host's folder, brought to the main host, into the main one and writes the
report. No shared file system is needed.
"""

from __future__ import annotations

import filecmp
import os
import shlex
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tefed.contract.errors import InputError
from tefed.contract.federation_file import FederateEntry, FederationFile
from tefed.contract.run_folder import STATUS_FAILED, STATUS_RUNNING, RunFolder

#: Ports a user may choose (below 1024 needs privileges).
LOWEST_PORT, HIGHEST_PORT = 1024, 65535
#: Files of a run folder that belong to the host that wrote it, never merged into another's.
HOST_OWN_FILES = frozenset({"federation.json", "status.json", ".failure-claim", ".report-claim"})


class HostPart(BaseModel):
    """The part of a federation this host runs.

    ``federates`` are started here; ``broker_host`` is the main host's address when the broker
    runs there (None: this host is the main host and starts the broker); ``broker_port`` is
    the broker's port; ``local_port``, on a joining host, is the port of its first federate
    (the next ones follow in order), None to let the broker assign them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    federates: tuple[str, ...] = Field(min_length=1)
    broker_host: str | None = None
    broker_port: int = Field(ge=LOWEST_PORT, le=HIGHEST_PORT)
    local_port: int | None = Field(None, ge=LOWEST_PORT, le=HIGHEST_PORT)

    @property
    def starts_broker(self) -> bool:
        """Whether this host starts the broker (it is the main host)."""
        return self.broker_host is None

    def bound_ports(self) -> list[tuple[int, str]]:
        """The ports this host's processes bind that tefed chose, each with the option that
        chose it (the broker's two, or the joining federates' given by ``--local-port``)."""
        if self.starts_broker:
            return [(self.broker_port, "--broker-port"), (self.broker_port + 1, "--broker-port")]
        if self.local_port is None:
            return []
        return [(self.local_port + index, "--local-port") for index in range(len(self.federates))]


class HostOptions(BaseModel):
    """``tefed run``'s options for a federation over several hosts, as given (None: not
    given): ``only`` names the federates to start, separated by commas; ``broker_address`` is
    ``HOST`` or ``HOST:PORT`` of the main host's broker; ``broker_port`` the broker's port
    (default: the file's); ``local_port`` the port of a joining host's first federate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    only: str | None = None
    broker_address: str | None = None
    broker_port: int | None = None
    local_port: int | None = None


def plan_host_part(
    federation: FederationFile, source: str, options: HostOptions
) -> HostPart | None:
    """The part of ``federation`` this host runs; None for a whole run on this host (no
    ``--only``).

    Parameters
    ----------
    federation : FederationFile
        The federation to run.
    source : str
        The file it comes from (named in messages).
    options : HostOptions
        The options given to ``tefed run``.

    Raises ``InputError`` naming every bad option and combination at once.
    """
    only, broker_address = options.only, options.broker_address
    broker_port, local_port = options.broker_port, options.local_port
    if only is None:
        given = [
            option
            for option, value in (
                ("--broker-address", broker_address),
                ("--broker-port", broker_port),
                ("--local-port", local_port),
            )
            if value is not None
        ]
        if given:
            raise InputError(
                given[0],
                [
                    f"{option} is for a federation spread over hosts; add --only NAMES, the "
                    "federates this host runs"
                    for option in given
                ],
            )
        return None
    names = tuple(name.strip() for name in only.split(","))
    problems = _selection_problems(federation, only, names)
    host, address_port = _split_address(broker_address, problems)
    if address_port is not None and broker_port is not None and address_port != broker_port:
        problems.append(
            f"--broker-address {broker_address!r} names port {address_port} but --broker-port "
            f"is {broker_port}; give the port once"
        )
    port = next(
        (value for value in (broker_port, address_port) if value is not None),
        _file_broker_port(federation),
    )
    if port is None:
        problems.append(f"{source}: no federate names its broker port; give --broker-port")
    for option, value in (("--broker-port", port), ("--local-port", local_port)):
        if value is not None and not LOWEST_PORT <= value <= HIGHEST_PORT:
            problems.append(
                f"{option} {value}: expected a port from {LOWEST_PORT} to {HIGHEST_PORT}"
            )
    last_local = None if local_port is None else local_port + len(names) - 1
    if local_port is not None and LOWEST_PORT <= local_port <= HIGHEST_PORT < last_local:
        problems.append(
            f"--local-port {local_port}: {len(names)} federates need ports up to "
            f"{last_local}, above {HIGHEST_PORT}"
        )
    joining = broker_address is not None
    if local_port is not None and not joining:
        problems.append(
            f"--local-port {local_port}: only for a joining host (with --broker-address); the "
            "main host's federates get their ports from its broker"
        )
    if not joining and federation.broker_entry() is None:
        problems.append(
            f"{source}: no broker entry to start on this host; join a broker elsewhere with "
            "--broker-address"
        )
    if problems:
        raise InputError("tefed run --only", problems)
    return HostPart(federates=names, broker_host=host, broker_port=port, local_port=local_port)


def _selection_problems(federation: FederationFile, only: str, names: tuple[str, ...]) -> list[str]:
    known = [entry.name for entry in federation.federate_entries()]
    problems = []
    if any(not name for name in names):
        problems.append(f"--only {only!r}: an empty name; expected names separated by commas")
    for name in sorted({name for name in names if name and name not in known}):
        problems.append(
            f"--only: {name!r} is not a federate of this federation; expected some of "
            f"{', '.join(known)}"
        )
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        problems.append(f"--only names {', '.join(duplicates)} more than once")
    return problems


def _split_address(address: str | None, problems: list[str]) -> tuple[str | None, int | None]:
    """``HOST`` and the port of ``HOST:PORT`` (None without one); a malformed address is
    added to ``problems``."""
    if address is None:
        return None, None
    host, separator, port_text = address.rpartition(":")
    if not separator:
        host, port_text = address, ""
    if not host or "/" in host or ":" in host or (separator and not port_text.isdigit()):
        problems.append(
            f"--broker-address {address!r}: expected HOST or HOST:PORT, e.g. 10.0.0.5:23700"
        )
        return None, None
    return host, int(port_text) if port_text else None


def _file_broker_port(federation: FederationFile) -> int | None:
    """The broker port the file's federates join (``brokerport`` of their ``helics`` blocks)."""
    for entry in federation.federate_entries():
        if entry.helics is not None and "brokerport" in entry.helics:
            return int(entry.helics["brokerport"])
    return None


def for_host(federation: FederationFile, part: HostPart) -> FederationFile:
    """The run's federation file as this host runs it.

    On the main host the broker listens on every interface (``--external``). On a joining host
    every federate's ``helics`` block names the main host's broker, and the federates started
    here get their ports from ``--local-port``.
    """
    data = federation.model_dump(mode="json", exclude_none=True)
    local_ports = {
        name: part.local_port + index
        for index, name in enumerate(part.federates)
        if part.local_port is not None
    }
    for entry_data in data["federates"]:
        entry = FederateEntry.model_validate(entry_data)
        if entry.is_broker and part.starts_broker:
            entry_data["exec"] = shlex.join([*shlex.split(entry.exec), "--external"])
        elif entry.helics is not None and not part.starts_broker:
            entry_data["helics"]["broker_address"] = part.broker_host
            entry_data["helics"]["brokerport"] = str(part.broker_port)
            if entry.name in local_ports:
                entry_data["helics"]["localport"] = str(local_ports[entry.name])
    return FederationFile.model_validate(data)


def entries_to_start(federation: FederationFile, part: HostPart | None) -> list[FederateEntry]:
    """The processes this host starts: all of the file's without a part, else the part's
    federates and, on the main host, the broker."""
    if part is None:
        return list(federation.federates)
    return [
        entry
        for entry in federation.federates
        if entry.name in part.federates or (entry.is_broker and part.starts_broker)
    ]


def federates_elsewhere(federation: FederationFile, folder: RunFolder) -> list[str]:
    """Built-in federates whose results are not in ``folder`` (they ran on other hosts)."""
    expected = {entry.name for entry in federation.federate_entries() if entry.runs_builtin}
    return sorted(expected - folder.done_federates())


def finish_host_part(folder: RunFolder, federation: FederationFile) -> str:
    """Record how this host's part of a run ended, all its processes having exited cleanly:
    ``partial`` while other hosts' federates are missing here. Returns what to tell the user.
    """
    elsewhere = federates_elsewhere(federation, folder)
    if not elsewhere:
        return "run complete"
    folder.mark_partial(elsewhere)
    return (
        f"this host's federates are done; {', '.join(elsewhere)} ran on other hosts. Copy the "
        "other hosts' run folders to the main host and write the report there: "
        "tefed report MAIN_RUN_FOLDER --merge OTHER_RUN_FOLDER"
    )


def merge_host_folder(main: RunFolder, other_path: Path) -> list[str]:
    """Bring another host's run folder of the same run into the main host's.

    Copies every table, log, timing record and done marker of ``other_path`` into ``main``
    (each atomically); the files that describe a host's own run (``HOST_OWN_FILES``) stay. A
    failure recorded there is recorded in ``main`` too, unless ``main`` has one. Returns the
    federates whose results came in.

    Raises ``InputError`` when ``other_path`` is no run folder, a run still going, a run of
    another federation, or holds a file that ``main`` has with other contents; nothing is
    copied then.
    """
    option = f"--merge {other_path}"
    if not (other_path / "federation.json").is_file():
        raise InputError(option, ["no federation.json here; expected a run folder of tefed run"])
    other = RunFolder(other_path)
    if other.path.resolve() == main.path.resolve():
        raise InputError(option, ["is the run folder being reported; name another host's"])
    status = other.status()
    if status.get("state") == STATUS_RUNNING:
        raise InputError(option, ["its run is still going (status.json: running); wait for it"])
    difference = _federation_difference(
        FederationFile.model_validate_json(main.file("federation.json").read_text()),
        FederationFile.model_validate_json(other.file("federation.json").read_text()),
    )
    if difference:
        raise InputError(option, [f"a run of another federation: {difference}"])
    files = [
        path
        for path in sorted(other.path.rglob("*"))
        if path.is_file()
        and path.relative_to(other.path).parts[0] not in HOST_OWN_FILES
        and ".tmp-" not in path.name
    ]
    clashes = [
        str(path.relative_to(other.path))
        for path in files
        if main.file(str(path.relative_to(other.path))).exists()
        and not filecmp.cmp(path, main.file(str(path.relative_to(other.path))), shallow=False)
    ]
    if clashes:
        raise InputError(
            option,
            [f"{name}: the run folder being reported has another {name}" for name in clashes],
        )
    for path in files:
        _copy_atomically(path, main.file(str(path.relative_to(other.path))))
    if status.get("state") == STATUS_FAILED:
        main.mark_failed(status.get("failed_federate"), status.get("message", ""))
    return sorted(other.done_federates())


def _federation_difference(main: FederationFile, other: FederationFile) -> str | None:
    """What tells two hosts' copies of a federation apart, besides where each wrote its
    results and how its federates reached the broker; None when they are one federation."""
    if [entry.name for entry in main.federates] != [entry.name for entry in other.federates]:
        return (
            f"federates {[entry.name for entry in other.federates]}, expected "
            f"{[entry.name for entry in main.federates]}"
        )
    mine = main.tefed.model_dump(exclude={"results"})
    theirs = other.tefed.model_dump(exclude={"results"})
    for key in mine:
        if mine[key] != theirs[key]:
            return f"tefed.{key} differs"
    return None


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
