"""Counter-based random numbers of the household load model: stateless, hashed, vectorized.

A random number is the SplitMix64 hash of a 64-bit key (seed and household) combined with
integer labels (the purpose of the draw, the local date, the event number, ...). Equal keys
and labels give equal numbers, whatever else is drawn and in whatever order, so a household's
draws depend only on its own key, and any broadcast array of labels is drawn in one operation.
"""

from __future__ import annotations

import enum

import numpy as np

#: Increment of the SplitMix64 sequence, 2**64 divided by the golden ratio [-].
_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)


class Draw(enum.IntEnum):
    """Purpose of a random draw; part of the hash so that purposes never share numbers."""

    STANDBY = 1
    FRIDGE_SHARE = 2
    FRIDGE_PERIOD = 3
    FRIDGE_DUTY = 4
    FRIDGE_PHASE = 5
    ACTIVITY_SHARE = 6
    ROUTINE_SHIFT = 7
    FLOOR = 8
    BUMP = 9
    DAY_FACTOR = 10
    OWNERSHIP = 11
    USAGE = 12
    POWER = 13
    TAIL_POWER = 14
    COUNT = 15
    START = 16
    DURATION = 17
    EVENT_POWER = 18
    TAIL_DURATION = 19


def combine(state: np.ndarray, label: np.ndarray | int) -> np.ndarray:
    """Hash of 64-bit states and integer labels, broadcast together.

    Parameters
    ----------
    state : numpy.ndarray of numpy.uint64
        Keys to extend [-].
    label : numpy.ndarray of int or int
        Labels to fold in; negative labels wrap to their two's-complement bits [-].

    Returns
    -------
    numpy.ndarray of numpy.uint64
        ``mix64(state XOR mix64(label + γ))``, one per broadcast element [-].

    Notes
    -----
    ``mix64`` is the SplitMix64 finaliser and γ its golden-ratio increment [1]_. Hashing the
    label before the XOR keeps nearby labels (days, event numbers) far apart in the state.

    References
    ----------
    .. [1] G. L. Steele, D. Lea and C. H. Flood, "Fast splittable pseudorandom number
       generators", OOPSLA 2014, doi:10.1145/2660193.2660195.

    Examples
    --------
    The same state and label always give the same hash; another label gives another:

    >>> state = np.array([7], dtype=np.uint64)
    >>> bool(combine(state, 3)[0] == combine(state, 3)[0])
    True
    >>> bool(combine(state, 3)[0] == combine(state, 4)[0])
    False
    """
    label_bits = np.asarray(label, dtype=np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        return _mix64(state ^ _mix64(label_bits + _GOLDEN_GAMMA))


def uniform(keys: np.ndarray, *labels: np.ndarray | int) -> np.ndarray:
    """Uniform numbers in (0, 1), one per broadcast element of keys and labels.

    Parameters
    ----------
    keys : numpy.ndarray of numpy.uint64
        Stream keys, e.g. one per household [-].
    *labels : numpy.ndarray of int or int
        Labels folded in one after another with :func:`combine` [-].

    Returns
    -------
    numpy.ndarray of float
        :math:`(\\lfloor s / 2^{11} \\rfloor + 0.5) \\cdot 2^{-53}` for each final state
        :math:`s`, strictly between 0 and 1 [-].

    Examples
    --------
    The top 53 bits of the hash, centred in their interval, so never exactly 0 or 1:

    >>> u = uniform(np.arange(1000, dtype=np.uint64), 5, np.arange(3)[:, np.newaxis])
    >>> u.shape
    (3, 1000)
    >>> bool(0.0 < u.min() and u.max() < 1.0)
    True
    """
    state = np.asarray(keys, dtype=np.uint64)
    for label in labels:
        state = combine(state, label)
    return ((state >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normal(keys: np.ndarray, *labels: np.ndarray | int) -> np.ndarray:
    """Standard normal numbers, one per broadcast element of keys and labels.

    Parameters
    ----------
    keys, *labels
        As for :func:`uniform`; the labels 0 and 1 are appended for the two uniform streams
        the transform needs [-].

    Returns
    -------
    numpy.ndarray of float
        Standard normal numbers [-].

    Notes
    -----
    Box–Muller transform :math:`z = \\sqrt{-2 \\ln u_0} \\cos(2 \\pi u_1)` of the uniform
    streams :math:`u_0` and :math:`u_1`.

    Examples
    --------
    >>> z = normal(np.arange(20_000, dtype=np.uint64), 9)
    >>> bool(abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05)
    True
    """
    radius = np.sqrt(-2.0 * np.log(uniform(keys, *labels, 0)))
    return radius * np.cos(2.0 * np.pi * uniform(keys, *labels, 1))


def between(unit: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Map uniform numbers in (0, 1) onto ``[low, high]``.

    Parameters
    ----------
    unit : numpy.ndarray
        Numbers in (0, 1), e.g. from :func:`uniform` [-].
    bounds : tuple of float
        ``(low, high)``, in the unit of the quantity drawn [any].

    Returns
    -------
    numpy.ndarray
        ``low + (high − low) · unit``, in the unit of ``bounds`` [any].

    Examples
    --------
    >>> between(np.array([0.25, 0.5]), (2.0, 4.0))
    array([2.5, 3. ])
    """
    low, high = bounds
    return low + (high - low) * unit


def _mix64(state: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea and Flood 2014, doi:10.1145/2660193.2660195)."""
    with np.errstate(over="ignore"):
        state = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        state = (state ^ (state >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state ^ (state >> np.uint64(31))
