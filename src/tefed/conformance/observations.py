"""What a conformance harness run observed of a candidate federate, as plain data.

`tefed.conformance.harness` fills a `CheckInputs` from one run: what the candidate's role
declares (`ExpectedInterfaces`), what the probe federate saw (`ProbeObservations`, written by
`tefed.runtime.probe`), how the run ended (`RunSummary`), the market's order table, and the
households' records and prices the built-in ems and price feed wrote.
The checks of `tefed.conformance.checks` judge it and return `Finding` objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tefed.contract.federation_file import FederationFile
from tefed.contract.role_interfaces import (
    ROLE_INTERFACES,
    Interface,
    due_times_s,
    federate_interfaces,
)
from tefed.contract.shard_layout import ShardLayout
from tefed.contract.time_grid import TimeGrid
from tefed.runtime.probe import ProbeObservations

#: Two HELICS times closer than this are the same instant [s].
TIME_TOLERANCE_S = 1e-6
#: Findings listed per check before the rest are counted in one line.
FINDINGS_SHOWN_PER_CHECK = 6


@dataclass(frozen=True)
class Finding:
    """One violation of the contract.

    Parameters
    ----------
    check : str
        Name of the check that found it (``interfaces``, ``time grid``, ...).
    message : str
        What is wrong, with the key, time [s] or value concerned.
    fix : str
        How to fix it.
    """

    check: str
    message: str
    fix: str


@dataclass(frozen=True)
class ExpectedInterfaces:
    """What the candidate's role declares it registers, and its time grid.

    Parameters
    ----------
    publications, subscriptions : tuple of Interface
        Declared publications and subscriptions (key, HELICS type, unit).
    endpoints : tuple of str
        Declared (global) endpoint names.
    period_s : float
        The federate's HELICS ``period``: its grid step [s].
    offset_s : float
        The federate's HELICS ``offset``: its phase within a grid instant [s].
    """

    publications: tuple[Interface, ...]
    subscriptions: tuple[Interface, ...]
    endpoints: tuple[str, ...]
    period_s: float
    offset_s: float

    @classmethod
    def of_federate(cls, federation: FederationFile, name: str) -> ExpectedInterfaces:
        """The interfaces and time grid federate ``name`` must have, from its role's
        declarations (`tefed.contract.role_interfaces`) and the federation's time grid.

        Raises
        ------
        InputError
            When the federate's configuration is invalid.
        ValueError
            When the federate has no role or the ems entries do not host every household once.
        """
        interfaces = federate_interfaces(federation, name)
        role = federation.entry(name).tefed.role
        grid = federation.tefed.time.to_time_grid()
        return cls(
            publications=interfaces.publications,
            subscriptions=interfaces.subscriptions,
            endpoints=interfaces.endpoints,
            period_s=float(
                ROLE_INTERFACES[role].period_s(grid.grid_step_s, grid.market_interval_s)
            ),
            offset_s=grid.phase_offsets_s[role],
        )


@dataclass(frozen=True)
class RunSummary:
    """How the harness run ended.

    Parameters
    ----------
    exit_codes : dict of str to int or None
        Exit code of each federate process (negative: killed by that signal).
    message : str
        The runner's message when the run failed ('' when it completed).
    failed_federate : str or None
        The federate the runner blames for the failure.
    time_limit_reached : bool
        The run was stopped at the wall-clock limit.
    stalled : bool
        A stall watchdog ended the run.
    """

    exit_codes: dict[str, int | None]
    message: str = ""
    failed_federate: str | None = None
    time_limit_reached: bool = False
    stalled: bool = False


@dataclass
class CheckInputs:
    """Everything the checks look at for one candidate federate.

    Parameters
    ----------
    role : str
        One of ``ROLES``.
    federate : str
        The candidate's federate name.
    households : tuple of str
        Households the candidate hosts (roles ``ems`` and ``household``).
    expected : ExpectedInterfaces
        What the candidate's role declares.
    time_grid : TimeGrid
        The run's time grid.
    observations : ProbeObservations
        What the probe saw.
    run : RunSummary
        How the run ended.
    market_orders : pandas.DataFrame or None
        The built-in market's order table (``market_orders.parquet``), when it wrote one.
    unpublished_targets : tuple of str
        Subscription targets for which HELICS found no publisher (from the federates' logs).
    shard_layout : ShardLayout or None
        Which ems entry hosts each household (to take batches apart); None: no batches.
    household_intervals : pandas.DataFrame or None
        The built-in ems's records per interval and household (``household_intervals``):
        ``interval_index``, ``household_id`` and ``energy_wh``, the net energy it drew [Wh].
    prices : pandas.DataFrame or None
        The built-in price feed's net-billing prices per interval (``prices.parquet``).
    """

    role: str
    federate: str
    households: tuple[str, ...]
    expected: ExpectedInterfaces
    time_grid: TimeGrid
    observations: ProbeObservations
    run: RunSummary
    market_orders: pd.DataFrame | None = None
    unpublished_targets: tuple[str, ...] = ()
    shard_layout: ShardLayout | None = None
    household_intervals: pd.DataFrame | None = None
    prices: pd.DataFrame | None = None


def on_grid(time_s: float, period_s: float, offset_s: float, end_s: float) -> bool:
    """Whether a HELICS time lies on a federate's grid.

    Parameters
    ----------
    time_s : float
        HELICS time [s].
    period_s, offset_s : float
        The federate's period and offset [s].
    end_s : float
        Duration of the run [s]; the last grid time is ``end_s + offset_s``.

    Returns
    -------
    bool
        True when ``time_s = n·period + offset`` for an integer ``0 ≤ n`` and
        ``time_s ≤ end + offset`` (within ``TIME_TOLERANCE_S``).

    Examples
    --------
    >>> on_grid(120.001, 60.0, 0.001, 3600.0), on_grid(90.001, 60.0, 0.001, 3600.0)
    (True, False)
    >>> on_grid(3660.001, 60.0, 0.001, 3600.0)
    False
    """
    steps = (time_s - offset_s) / period_s
    return bool(
        abs(steps - round(steps)) * period_s <= TIME_TOLERANCE_S
        and round(steps) >= 0
        and time_s <= end_s + offset_s + TIME_TOLERANCE_S
    )


def publication_due_times_s(role: str, key: str, grid: TimeGrid) -> np.ndarray | None:
    """Grid instants [s] (HELICS time minus the offset) at which a federate of ``role`` must
    publish ``key``, as its role declares (`tefed.contract.role_interfaces.Cadence`); None when
    the key has no fixed cadence (the market's mean trade price) or the role does not publish it.

    >>> from datetime import datetime, timezone
    >>> grid = TimeGrid(datetime(2022, 6, 21, tzinfo=timezone.utc), 3600, 60, 900, 60)
    >>> publication_due_times_s("market", "market/traded_energy_wh", grid).tolist()
    [840, 1740, 2640]
    >>> publication_due_times_s("ems", "ems/ems_1/power_kw", grid).size
    60
    """
    cadence = ROLE_INTERFACES[role].publication_due(key)
    return None if cadence is None else due_times_s(cadence, grid)


def time_text(time_s: float) -> str:
    """A HELICS time as people read it.

    Examples
    --------
    >>> time_text(840.001), time_text(900.0)
    ('t=840.001 s', 't=900 s')
    """
    return "t=" + f"{time_s:.3f}".rstrip("0").rstrip(".") + " s"


def capped(findings: list[Finding]) -> list[Finding]:
    """The first ``FINDINGS_SHOWN_PER_CHECK`` findings of a check, and one counting the rest.

    Examples
    --------
    >>> found = [Finding("time grid", f"value at t={t} s is off the grid", "fix") for t in range(8)]
    >>> [finding.message for finding in capped(found)][-1]
    '... and 2 more like these'
    """
    if len(findings) <= FINDINGS_SHOWN_PER_CHECK:
        return findings
    last = findings[FINDINGS_SHOWN_PER_CHECK - 1]
    rest = len(findings) - FINDINGS_SHOWN_PER_CHECK
    return [
        *findings[:FINDINGS_SHOWN_PER_CHECK],
        Finding(last.check, f"... and {rest} more like these", last.fix),
    ]
