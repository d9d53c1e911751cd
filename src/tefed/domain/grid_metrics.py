"""Grid metrics of a run, accumulated one power-flow step at a time (pure: no I/O).

The grid federate solves the feeder at every grid step and feeds each solution to
`VoltageStatistics` and `LoadingStatistics` as arrays over all nodes or elements. They keep O(n)
state (per-node extremes and counts, one copy of the worst voltage profile): memory does not grow
with the number of steps and an update is a few vectorized numpy operations.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd

#: ANSI C84.1 range A for service voltage [pu].
ANSI_RANGE_A_PU = (0.95, 1.05)
#: The stricter upper voltage limit used by T-REX [pu].
TREX_UPPER_LIMIT_PU = 1.04

#: The Fortescue operator ``a = exp(j 120°)``.
FORTESCUE_A = np.exp(2j * np.pi / 3)


def _positive(field: str, value: object, kind: type = Real) -> float:
    """``value`` if it is a finite number > 0 of ``kind`` (Real or Integral)."""
    if not isinstance(value, kind) or isinstance(value, bool) or not 0 < value < np.inf:
        noun = "integer" if kind is Integral else "number"
        raise ValueError(f"{field}: got {value!r}; expected a finite {noun} > 0")
    return value


def _vector(
    field: str, values: np.ndarray, size: int | None, allow_nan: bool, minimum: float = -np.inf
) -> np.ndarray:
    """A 1-D float array of ``size`` values (any size if None), finite (or NaN) and >= minimum."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or (size is not None and array.shape[0] != size):
        raise ValueError(f"{field}: got shape {array.shape}; expected ({size or 'steps'},)")
    bad = (np.isinf(array) if allow_nan else ~np.isfinite(array)) | (array < minimum)
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        expected = "finite or NaN" if allow_nan else "finite"
        expected += f", >= {minimum}" if minimum > -np.inf else ""
        raise ValueError(f"{field}: got {array[where]} at index {where}; expected {expected}")
    return array


def _labels(field: str, labels: object, size: int) -> np.ndarray:
    """``size`` labels (names or kinds) as an object array of str."""
    array = np.asarray([str(label) for label in labels], dtype=object)
    if array.shape != (size,):
        raise ValueError(f"{field}: got {array.shape[0]} values; expected {size}, one per entry")
    return array


class VoltageStatistics:
    """Per-node voltage extremes and limit violations over a run.

    Parameters
    ----------
    n_nodes : int
        Number of nodes (phase conductors at buses) in every voltage vector.
    step_s : float
        Grid step [s]; each update counts for ``step_s`` of the run.
    range_pu : tuple of float
        Allowed band ``(low, high)`` [pu]; ANSI C84.1 range A by default.
    upper_limit_pu : float
        A stricter upper limit counted separately [pu] (T-REX used 1.04 pu).

    Notes
    -----
    A node-step is *below* if ``V < low``, *above* if ``V > high`` and *above the upper limit*
    if ``V > upper_limit_pu``; values on a bound comply. NaN entries (node not energized) are
    ignored: they count in no statistic, and a node that was never energized has NaN extremes.
    The worst instant is the update with the largest ``max |V − 1|`` over nodes (the earliest on
    ties); its whole voltage vector is kept for a feeder profile plot.

    References
    ----------
    .. [1] ANSI C84.1-2020, "American National Standard for Electric Power Systems and
       Equipment — Voltage Ratings (60 Hz)", NEMA, 2020: service voltage range A is
       0.95–1.05 of nominal (114–126 V on a 120 V base).
    .. [2] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator"
       (University of Alberta): upper voltage limit of 1.04 pu.

    Examples
    --------
    Two nodes over two one-minute steps; node 1 is high at the second step:

    >>> stats = VoltageStatistics(2, 60.0)
    >>> stats.update(0, np.array([1.00, 1.03]))
    >>> stats.update(60, np.array([0.99, 1.06]))
    >>> stats.steps_above.tolist(), stats.steps_above_upper_limit.tolist(), stats.worst_time_s
    ([0, 1], [0, 1], 60)
    """

    def __init__(
        self,
        n_nodes: int,
        step_s: float,
        range_pu: tuple[float, float] = ANSI_RANGE_A_PU,
        upper_limit_pu: float = TREX_UPPER_LIMIT_PU,
    ) -> None:
        self.n_nodes = int(_positive("n_nodes", n_nodes, Integral))
        self.step_s = float(_positive("step_s", step_s))
        low, high = (float(bound) for bound in range_pu)
        if not 0 < low < high < np.inf:
            raise ValueError(f"range_pu: got {range_pu!r}; expected (low, high), 0 < low < high")
        self.range_pu = (low, high)
        self.upper_limit_pu = float(_positive("upper_limit_pu", upper_limit_pu))
        self.n_steps = 0
        self.min_pu = np.full(self.n_nodes, np.nan)
        self.max_pu = np.full(self.n_nodes, np.nan)
        self.steps_energized = np.zeros(self.n_nodes, dtype=np.int64)
        self.steps_below = np.zeros(self.n_nodes, dtype=np.int64)
        self.steps_above = np.zeros(self.n_nodes, dtype=np.int64)
        self.steps_above_upper_limit = np.zeros(self.n_nodes, dtype=np.int64)
        self.worst_time_s: int | None = None
        self.worst_deviation_pu = np.nan
        self.worst_voltage_pu: np.ndarray | None = None
        self._last_time_s: int | None = None

    def update(self, time_s: int, voltage_pu: np.ndarray) -> None:
        """Add one power-flow solution at ``time_s`` [s] (after the previous update's):
        ``voltage_pu``, the magnitude of every node [pu], shape ``(n_nodes,)``, NaN = off."""
        if not isinstance(time_s, Integral) or isinstance(time_s, bool):
            raise ValueError(f"time_s: got {time_s!r}; expected an integer [s]")
        if self._last_time_s is not None and time_s <= self._last_time_s:
            raise ValueError(f"time_s: got {time_s}; expected > {self._last_time_s} (last update)")
        voltage = _vector("voltage_pu", voltage_pu, self.n_nodes, allow_nan=True)
        self._last_time_s = int(time_s)
        self.n_steps += 1
        energized = ~np.isnan(voltage)
        if not energized.any():
            return
        np.fmin(self.min_pu, voltage, out=self.min_pu)
        np.fmax(self.max_pu, voltage, out=self.max_pu)
        self.steps_energized += energized
        self.steps_below += voltage < self.range_pu[0]
        self.steps_above += voltage > self.range_pu[1]
        self.steps_above_upper_limit += voltage > self.upper_limit_pu
        deviation = float(np.nanmax(np.abs(voltage - 1.0)))
        if self.worst_time_s is None or deviation > self.worst_deviation_pu:
            self.worst_time_s = int(time_s)
            self.worst_deviation_pu = deviation
            self.worst_voltage_pu = voltage.copy()

    def node_table(self, names: object) -> pd.DataFrame:
        """Per-node statistics; ``names``: node names in vector order, e.g. ``"634.1"``.

        Returns
        -------
        pandas.DataFrame
            Index ``node``; columns ``min_pu``, ``max_pu`` [pu], ``steps_energized``,
            ``steps_below``, ``steps_above``, ``steps_above_upper_limit`` [steps] and
            ``minutes_below``, ``minutes_above``, ``minutes_above_upper_limit`` [min].
        """
        table = pd.DataFrame(
            {"min_pu": self.min_pu, "max_pu": self.max_pu, "steps_energized": self.steps_energized},
            index=pd.Index(_labels("names", names, self.n_nodes), name="node"),
        )
        counts = {
            "below": self.steps_below,
            "above": self.steps_above,
            "above_upper_limit": self.steps_above_upper_limit,
        }
        for label, steps in counts.items():
            table[f"steps_{label}"] = steps
        for label, steps in counts.items():
            table[f"minutes_{label}"] = steps * (self.step_s / 60.0)
        return table


def voltage_unbalance_factor_pct(v_a: np.ndarray, v_b: np.ndarray, v_c: np.ndarray) -> np.ndarray:
    """Voltage unbalance factor ``|V2| / |V1| · 100`` from complex phase voltages [%].

    Parameters
    ----------
    v_a, v_b, v_c : numpy.ndarray
        Complex phasors of phases A, B, C (same shape, any consistent unit: V, kV or pu), either
        all line-to-neutral or all line-to-line (``V_ab, V_bc, V_ca``).

    Returns
    -------
    numpy.ndarray
        VUF [%], same shape; NaN where an input is NaN or ``|V1|`` is zero (below 1e-9 of the
        largest phase magnitude, rounding noise): the ratio is undefined there.

    Notes
    -----
    Symmetrical components with ``a = exp(j 120°)``, A-B-C sequence: ``V1 = (Va + a Vb + a² Vc)/3``,
    ``V2 = (Va + a² Vb + a Vc)/3``: the "true" definition of IEC 61000-4-30 (negative-sequence
    unbalance ``u2``), not the NEMA magnitude-only approximation. The zero sequence
    ``V0 = (Va + Vb + Vc)/3`` does not enter. Line-to-line voltages ``V_ab = Va − Vb`` (and
    cyclic) have no zero sequence, ``V1_LL = (1 − a²) V1``, ``V2_LL = (1 − a) V2`` and
    ``|1 − a| = |1 − a²| = √3``: line-to-line and line-to-neutral voltages give the same factor
    even when a zero sequence is present.

    References
    ----------
    .. [1] IEC 61000-4-30:2015, "Electromagnetic compatibility — Testing and measurement
       techniques — Power quality measurement methods", clause 5.7 (supply voltage unbalance).
    .. [2] C. L. Fortescue, "Method of symmetrical co-ordinates applied to the solution of
       polyphase networks", Transactions of the AIEE 37(2), 1027–1140, 1918.
       doi:10.1109/T-AIEE.1918.5057991

    Examples
    --------
    Phase C at 0.9 pu, angles balanced: ``V1 = 2.9/3``, ``V2 = −0.1 a² / 3``, so
    ``VUF = 0.1 / 2.9 = 3.448 %``:

    >>> a = FORTESCUE_A
    >>> round(float(voltage_unbalance_factor_pct(1.0, a**2, 0.9 * a)), 3)
    3.448
    """
    phases = [np.asarray(v, dtype=complex) for v in (v_a, v_b, v_c)]
    if not phases[0].shape == phases[1].shape == phases[2].shape:
        shapes = ", ".join(str(v.shape) for v in phases)
        raise ValueError(f"v_a, v_b, v_c: got shapes {shapes}; expected the same shape")
    a = FORTESCUE_A
    positive = np.abs(phases[0] + a * phases[1] + a**2 * phases[2])
    negative = np.abs(phases[0] + a**2 * phases[1] + a * phases[2])
    scale = np.maximum(np.maximum(np.abs(phases[0]), np.abs(phases[1])), np.abs(phases[2]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive > 1e-9 * scale, 100.0 * negative / positive, np.nan)


class LoadingStatistics:
    """Per-element maximum loading and overload time over a run.

    Parameters
    ----------
    n_elements : int
        Number of elements (lines, transformers) in every loading vector.
    step_s : float
        Grid step [s].
    limit_pct : float
        Loading above which an element is overloaded [% of its normal rating].

    Notes
    -----
    An element-step is an overload if ``loading_pct > limit_pct`` (a loading equal to the limit
    complies). NaN entries (element out of service or not energized) are ignored.

    Examples
    --------
    >>> stats = LoadingStatistics(2, 900.0)
    >>> stats.update(np.array([80.0, 120.0]))
    >>> stats.update(np.array([101.0, 90.0]))
    >>> stats.max_pct.tolist(), stats.overload_minutes.tolist()
    ([101.0, 120.0], [15.0, 15.0])
    """

    def __init__(self, n_elements: int, step_s: float, limit_pct: float = 100.0) -> None:
        self.n_elements = int(_positive("n_elements", n_elements, Integral))
        self.step_s = float(_positive("step_s", step_s))
        self.limit_pct = float(_positive("limit_pct", limit_pct))
        self.n_steps = 0
        self.max_pct = np.full(self.n_elements, np.nan)
        self.steps_over = np.zeros(self.n_elements, dtype=np.int64)

    @property
    def overload_minutes(self) -> np.ndarray:
        """Time each element spent overloaded [min]."""
        return self.steps_over * (self.step_s / 60.0)

    def update(self, loading_pct: np.ndarray) -> None:
        """Add one step: loading of every element [% of its normal rating], NaN ignored."""
        loading = _vector("loading_pct", loading_pct, self.n_elements, allow_nan=True)
        self.n_steps += 1
        np.fmax(self.max_pct, loading, out=self.max_pct)
        self.steps_over += loading > self.limit_pct

    def element_table(self, names: object, kinds: object) -> pd.DataFrame:
        """Per-element table: index ``element`` (``names``); ``kind`` (lowercased ``kinds``),
        ``max_pct`` [%], ``steps_over`` and ``overload_minutes`` [min]."""
        return pd.DataFrame(
            {
                "kind": np.char.lower(_labels("kinds", kinds, self.n_elements).astype(str)),
                "max_pct": self.max_pct,
                "steps_over": self.steps_over,
                "overload_minutes": self.overload_minutes,
            },
            index=pd.Index(_labels("names", names, self.n_elements), name="element"),
        )


def count_tap_changes(tap_position: np.ndarray) -> np.ndarray:
    """Number of tap steps each regulator moved over the run.

    Parameters
    ----------
    tap_position : numpy.ndarray
        Integer tap position of each regulator at each step, shape ``(steps, regulators)``.

    Returns
    -------
    numpy.ndarray
        Tap steps moved per regulator [-], int64, shape ``(regulators,)``.

    Notes
    -----
    ``changes_r = Σ_k |tap[k, r] − tap[k−1, r]|`` for ``k ≥ 1``: counting starts at the first
    recorded step (its position is the reference, not a change), and a jump of two positions
    within one step counts as two operations.

    Examples
    --------
    Positions 0, 2, 1, 1 move 2 + 1 = 3 steps; a regulator that stays at 5 moves none:

    >>> count_tap_changes(np.array([[0, 5], [2, 5], [1, 5], [1, 5]])).tolist()
    [3, 0]
    """
    taps = np.asarray(tap_position)
    if taps.ndim != 2:
        raise ValueError(f"tap_position: got shape {taps.shape}; expected (steps, regulators)")
    values = taps.astype(float)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        step, regulator = np.argwhere(bad)[0]
        raise ValueError(
            f"tap_position: got {values[step, regulator]} at step {step}, regulator "
            f"{regulator}; expected integers"
        )
    return np.abs(np.diff(taps.astype(np.int64), axis=0)).sum(axis=0).astype(np.int64)


def energy_summary(
    substation_power_kw: np.ndarray,
    losses_kw: np.ndarray,
    household_export_kw: np.ndarray,
    step_s: float,
) -> dict[str, float]:
    """Substation energy, peaks and feeder losses over a run.

    Parameters
    ----------
    substation_power_kw : numpy.ndarray
        Active power into the feeder at the substation at each step [kW]; negative = reverse
        flow (export to the upstream grid). Shape ``(steps,)``.
    losses_kw : numpy.ndarray
        Total feeder losses at each step [kW], shape ``(steps,)``.
    household_export_kw : numpy.ndarray
        Power injected into the feeder by households at each step [kW], ``>= 0``: the sum over
        households of ``max(−p_household, 0)``, shape ``(steps,)``.
    step_s : float
        Grid step [s]; each value holds for one step.

    Returns
    -------
    dict
        ``substation_import_kwh``, ``substation_export_kwh`` (positive), ``peak_import_kw``,
        ``peak_export_kw`` (positive; 0 if never), ``losses_kwh``, ``household_export_kwh``,
        ``supplied_kwh`` and ``losses_pct`` (NaN if nothing was supplied).

    Notes
    -----
    With ``h = step_s / 3600``: ``E_import = h Σ max(P_sub, 0)``, ``E_export = h Σ max(−P_sub, 0)``,
    ``E_loss = h Σ P_loss``. Losses are a share of the energy *supplied into the feeder* by all
    sources, the substation's import plus every household's injection:
    ``losses_pct = 100 · E_loss / (E_import + h Σ household_export_kw)``. Counting only the
    substation would overstate the loss rate of a feeder with much local generation.

    Examples
    --------
    Two 30 min steps: import 100 kW with 4 kW losses, then 20 kW reverse flow with 60 kW of
    household injection and 2 kW losses. Supplied: 50 + 30 = 80 kWh; losses: 3 kWh = 3.75 %:

    >>> summary = energy_summary(
    ...     np.array([100.0, -20.0]), np.array([4.0, 2.0]), np.array([0.0, 60.0]), 1800.0
    ... )
    >>> summary["substation_import_kwh"], summary["substation_export_kwh"], summary["losses_pct"]
    (50.0, 10.0, 3.75)
    """
    hours = float(_positive("step_s", step_s)) / 3600.0
    power = _vector("substation_power_kw", substation_power_kw, None, allow_nan=False)
    losses = _vector("losses_kw", losses_kw, power.shape[0], allow_nan=False)
    injected = _vector("household_export_kw", household_export_kw, power.shape[0], False, 0.0)
    import_kwh = float(np.maximum(power, 0.0).sum() * hours)
    injected_kwh = float(injected.sum() * hours)
    supplied_kwh = import_kwh + injected_kwh
    losses_kwh = float(losses.sum() * hours)
    return {
        "substation_import_kwh": import_kwh,
        "substation_export_kwh": float(np.where(power < 0, -power, 0.0).sum() * hours),
        "peak_import_kw": float(power.max(initial=0.0)),
        "peak_export_kw": 0.0 - float(power.min(initial=0.0)),
        "losses_kwh": losses_kwh,
        "household_export_kwh": injected_kwh,
        "supplied_kwh": supplied_kwh,
        "losses_pct": 100.0 * losses_kwh / supplied_kwh if supplied_kwh > 0 else np.nan,
    }
