"""Named prices of a clearing's pools: each pool's volume-weighted trade price.

The prices households are told have always been summed as pandas' grouped sum sums them;
`grouped_sums` reproduces that sum bit for bit without building a ``groupby`` (about 0.4 ms,
more than the rest of pricing an interval's few trades).
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise

import numpy as np
import pandas as pd

from tefed.domain.market.frames import column_array


def pool_prices(trades: pd.DataFrame) -> dict[str, float]:
    """Each pool's volume-weighted trade price, ``pool:<name>``, pools by name [USD/kWh].

    Under the uniform rule it is the pool's one price; under the pairwise rules the price a
    learning trader observes (T-REX's ma_crossover). Pools without trades have none.

    Notes
    -----
    A pool's value [USD·Wh/kWh] is summed as pandas' grouped sum sums it, whose rounding the
    prices households are told have always had (`grouped_sums`); for the few trades of an
    interval without building a ``groupby`` (~0.4 ms).
    """
    if trades.empty:
        return {}
    quantity_wh = column_array(trades, "quantity_wh", dtype=np.int64)
    value = quantity_wh * column_array(trades, "price_usd_per_kwh", dtype=np.float64)
    pool = column_array(trades, "pool", dtype=object).tolist()
    if not all(type(name) is str for name in pool):
        # Pools of other kinds: numpy's unique sorts them, pandas groups them.
        names_array, group = np.unique(np.array(pool, dtype=object), return_inverse=True)
        names = names_array.tolist()
        groups = group.tolist()
    else:
        # Sorted as numpy's unique sorts str, so the pools come in the same order.
        names = sorted(set(pool))
        group_of = {name: group for group, name in enumerate(names)}
        groups = [group_of[name] for name in pool]
    energy_wh = np.zeros(len(names), dtype=np.int64)
    np.add.at(energy_wh, np.array(groups, dtype=np.intp), quantity_wh)
    summed = grouped_sums(value, groups, len(names))
    return {
        f"pool:{name}": float(summed[k] / energy_wh[k])
        for k, name in enumerate(names)
        if energy_wh[k] > 0
    }


def grouped_sums(values: np.ndarray, groups: list[int], group_count: int) -> np.ndarray:
    """``pandas.Series(values).groupby(groups).sum()`` as an array, bit for bit.

    Every group in ``range(group_count)`` has a value. pandas (3.1) sums the groups with
    ``np.add.reduceat`` when the labels are sorted and no value is NaN, else with Kahan's
    compensated loop in row order; both are done here as pandas does them, where
    `pandas_grouped_sum_rules` finds that this pandas does. Otherwise, or with NaN, pandas sums.
    """
    by_reduceat, by_kahan = pandas_grouped_sum_rules()
    labels_sorted = all(a <= b for a, b in pairwise(groups))
    if not np.isnan(values).any():
        if labels_sorted and by_reduceat:
            starts = [0] + [k for k in range(1, len(groups)) if groups[k] != groups[k - 1]]
            return np.add.reduceat(values, np.array(starts, dtype=np.intp), axis=0)
        if not labels_sorted and by_kahan:
            return np.array(_compensated_sums(values.tolist(), groups, group_count))
    return pd.Series(values).groupby(np.array(groups, dtype=np.intp)).sum().to_numpy()


def _compensated_sums(values: list[float], groups: list[int], group_count: int) -> list[float]:
    """Each group's Kahan-compensated sum of ``values`` in row order, as pandas' compiled loop.

    A compensation that is not a number (a value of ±inf) is reset to 0, as pandas resets it
    (GH#53606). Python floats are IEEE doubles, so every step rounds as the compiled one does.
    """
    total = [0.0] * group_count
    compensation = [0.0] * group_count
    for value, group in zip(values, groups, strict=True):
        y = value - compensation[group]
        t = total[group] + y
        c = t - total[group] - y
        compensation[group] = c if c == c else 0.0
        total[group] = t
    return total


@cache
def pandas_grouped_sum_rules() -> tuple[bool, bool]:
    """Whether this pandas' grouped float64 sum is ``np.add.reduceat`` for sorted labels, and
    whether it is `_compensated_sums` for unsorted ones.

    Judged once, on fixed values of mixed magnitudes on which the ways of summing round
    differently (naive, pairwise, compensated); `grouped_sums` asks pandas where either is no.
    Judging costs 4-6 ms of pandas' first use, so the market asks at start-up, and its first
    clearing does not pay for it.
    """
    # On each group of these (either labelling), a naive loop, numpy's pairwise reduction and
    # Kahan's loop give three different sums.
    values = np.random.default_rng(141).uniform(-1.0, 1.0, 64) * 10.0 ** np.tile(
        np.arange(-3, 13), 4
    )
    sorted_labels = np.repeat(np.arange(2, dtype=np.intp), 32)
    unsorted_labels = np.tile(np.arange(2, dtype=np.intp), 32)
    by_pandas = [
        pd.Series(values).groupby(labels).sum().to_numpy()
        for labels in (sorted_labels, unsorted_labels)
    ]
    by_reduceat = np.add.reduceat(values, np.array([0, 32], dtype=np.intp), axis=0)
    by_kahan = np.array(_compensated_sums(values.tolist(), unsorted_labels.tolist(), 2))
    return (
        by_reduceat.tobytes() == by_pandas[0].tobytes(),
        by_kahan.tobytes() == by_pandas[1].tobytes(),
    )
