"""Figures of the households: service voltages (T-REX Fig. 7) and income over baseline (Fig. 4).

Every function takes tables and returns a matplotlib figure; the caller saves and closes it.

References
----------
.. [1] D. Zhang, H. Gül, P. Musilek, "T-REX: a transactive energy market simulator"
   (University of Alberta): Fig. 4 (income advantage over net billing), Fig. 7 (voltages).
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: Calendar of a run: simulated seconds to local timestamps.
Calendar = Callable[[np.ndarray], pd.DatetimeIndex]

#: Up to this many households get a box each; more are grouped.
MAX_HOUSEHOLDS_SHOWN = 40
#: Colours of household lines, all distinct (matplotlib's "tab10"); a figure draws at most this
#: many households as lines of their own and shows the others together.
HOUSEHOLD_COLOURS = tuple(plt.get_cmap("tab10").colors)
MAX_HOUSEHOLD_LINES = len(HOUSEHOLD_COLOURS)


def household_voltages_figure(
    voltages: pd.DataFrame,
    calendar: Calendar,
    limits_pu: tuple[float, float, float],
    attachment: pd.DataFrame | None = None,
) -> plt.Figure:
    """Household voltages over time, and their distributions as box plots.

    Parameters
    ----------
    voltages : pandas.DataFrame
        ``time_s`` [s], ``household_id``, ``voltage_pu`` [pu].
    calendar : callable
        Simulated seconds to local timestamps.
    limits_pu : tuple of float
        Allowed band and the stricter upper limit [pu], drawn as lines.
    attachment : pandas.DataFrame, optional
        ``household_id`` and ``distance_m`` (cable distance from the source) [m].

    Notes
    -----
    Up to `MAX_HOUSEHOLD_LINES` households get a line each, in distinct colours; beyond that the
    left panel shows the minimum, median and maximum over households. Up to
    `MAX_HOUSEHOLDS_SHOWN` households get a box each; beyond that the boxes group households into
    as many bins by cable distance from the source, nearest first.
    """
    low_pu, high_pu, upper_pu = limits_pu
    wide = voltages.pivot(index="time_s", columns="household_id", values="voltage_pu")
    times = calendar(wide.index.to_numpy())
    figure, (over_time, boxes) = plt.subplots(
        1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2.2, 1]}, sharey=True
    )
    if wide.shape[1] <= MAX_HOUSEHOLD_LINES:
        for household, colour in zip(wide.columns, HOUSEHOLD_COLOURS, strict=False):
            over_time.plot(times, wide[household], linewidth=0.8, color=colour, label=household)
        over_time.legend(fontsize=7, ncols=2)
    else:
        values = wide.to_numpy()
        over_time.fill_between(
            times, np.nanmin(values, 1), np.nanmax(values, 1), alpha=0.3, label="min–max"
        )
        over_time.plot(times, np.nanmedian(values, 1), label="median")
        over_time.legend(fontsize=8)
    if wide.shape[1] <= MAX_HOUSEHOLDS_SHOWN:
        groups = {str(c): wide[c].to_numpy() for c in wide.columns}
        boxes.set_title("Distribution per household (whiskers 1–99 %)")
    else:
        groups = _distance_groups(wide, attachment)
        boxes.set_title("By distance from the source (whiskers 1–99 %)")
    for axis in (over_time, boxes):
        _draw_limits(axis, limits_pu)
        axis.grid(alpha=0.3)
    over_time.set_xlabel(f"local time ({times.tz})")
    over_time.set_ylabel("service voltage [pu]")
    over_time.set_title(
        f"Household voltages (dashed: {low_pu:g}–{high_pu:g} pu, dotted: {upper_pu:g} pu)"
    )
    figure.autofmt_xdate()
    # Whiskers at the 1st and 99th percentiles; with a day of one-minute samples per box,
    # single outliers would only hide the boxes.
    boxes.boxplot(
        [values[np.isfinite(values)] for values in groups.values()],
        tick_labels=list(groups),
        whis=(1, 99),
        showfliers=False,
    )
    every = max(1, len(groups) // 10)
    positions = np.arange(1, len(groups) + 1)
    boxes.set_xticks(positions[::every], list(groups)[::every])
    boxes.tick_params(axis="x", labelrotation=90, labelsize=8)
    return figure


def _distance_groups(wide: pd.DataFrame, attachment: pd.DataFrame | None) -> dict:
    """Households' voltage samples pooled in `MAX_HOUSEHOLDS_SHOWN` bins by distance."""
    if attachment is None or attachment["distance_m"].isna().all():
        order = np.arange(wide.shape[1])
        label = "households {}–{}"
    else:
        distance = attachment.set_index("household_id")["distance_m"].reindex(wide.columns)
        order = np.argsort(distance.to_numpy(), kind="stable")
        label = None
    groups = {}
    for number, chunk in enumerate(np.array_split(order, MAX_HOUSEHOLDS_SHOWN), start=1):
        if not chunk.size:
            continue
        if label is None:
            far = attachment.set_index("household_id")["distance_m"].reindex(wide.columns[chunk])
            name = f"{number}: ≤{far.max():.0f} m"
        else:
            name = label.format(chunk[0] + 1, chunk[-1] + 1)
        groups[name] = wide.iloc[:, chunk].to_numpy().ravel()
    return groups


def _draw_limits(axis: plt.Axes, limits_pu: tuple[float, float, float]) -> None:
    low_pu, high_pu, upper_pu = limits_pu
    for limit in (low_pu, high_pu):
        axis.axhline(limit, color="black", linestyle="--", linewidth=0.8)
    axis.axhline(upper_pu, color="tab:red", linestyle=":", linewidth=0.8)


def voltage_by_hour_figure(
    voltages: pd.DataFrame, calendar: Calendar, limits_pu: tuple[float, float, float]
) -> plt.Figure:
    """Service voltages of all households as one box per hour of the day (T-REX Fig. 7).

    Parameters
    ----------
    voltages : pandas.DataFrame
        ``time_s`` [s], ``household_id``, ``voltage_pu`` [pu].
    calendar : callable
        Simulated seconds to local timestamps.
    limits_pu : tuple of float
        Allowed band and the stricter upper limit [pu], drawn as lines.

    Notes
    -----
    Each box pools every household's samples of that local hour over the run (boxes: quartiles;
    whiskers: 1st and 99th percentiles); the count of samples outside the band is written above
    the hours that have any.
    """
    low_pu, high_pu, upper_pu = limits_pu
    hour = calendar(voltages["time_s"].to_numpy()).hour.to_numpy()
    value = voltages["voltage_pu"].to_numpy(float)
    hours = np.unique(hour)
    samples = [value[(hour == h) & np.isfinite(value)] for h in hours]
    figure, axis = plt.subplots(figsize=(12, 4.5))
    axis.boxplot(samples, positions=hours, whis=(1, 99), showfliers=False, widths=0.6)
    outside = [int(((s < low_pu) | (s > high_pu)).sum()) for s in samples]
    for h, count in zip(hours, outside, strict=True):
        if count:
            axis.text(
                h, 0.98, str(count), transform=axis.get_xaxis_transform(), ha="center",
                va="top", fontsize=7, color="red",
            )  # fmt: skip
    _draw_limits(axis, limits_pu)
    axis.set_xticks(hours, [f"{h:02d}" for h in hours])
    axis.set_xlabel(f"hour of the day (local time, {calendar(np.array([0])).tz})")
    axis.set_ylabel("service voltage [pu]")
    axis.set_title(
        f"Household voltages by hour, all households (dashed: {low_pu:g}–{high_pu:g} pu, "
        f"dotted: {upper_pu:g} pu; red: samples outside the band per hour)"
    )
    axis.grid(alpha=0.3)
    return figure


def income_advantage_figure(bills: pd.DataFrame, calendar: Calendar, interval_s: int) -> plt.Figure:
    """Cumulative income advantage over net billing per household (T-REX Fig. 4).

    Parameters
    ----------
    bills : pandas.DataFrame
        From `tefed.analysis.kpis.household_interval_bills`: ``bill_usd`` and
        ``baseline_bill_usd`` [USD] by (``household_id``, ``interval_index``).
    calendar : callable
        Simulated seconds to local timestamps.
    interval_s : int
        Market interval [s]; each value is drawn at its interval's end.

    Notes
    -----
    The advantage of household :math:`h` up to interval :math:`k` is
    :math:`\\sum_{j \\le k} (B^{nb}_{h,j} - B_{h,j})`. Households without a baseline (run by an
    external program) are left out. Up to `MAX_HOUSEHOLD_LINES` households get a line each, in
    distinct colours; beyond that, the `MAX_HOUSEHOLD_LINES` households with the largest final
    advantage (in magnitude) do, and the others are drawn together: their mean and their range.
    """
    advantage = (bills["baseline_bill_usd"] - bills["bill_usd"]).dropna()
    wide = advantage.unstack("household_id").sort_index().fillna(0.0).cumsum()
    times = calendar((wide.index.to_numpy() + 1) * interval_s)
    figure, axis = plt.subplots(figsize=(11, 4.5))
    largest = wide.iloc[-1].abs().sort_values(ascending=False, kind="stable").index
    shown = [household for household in wide.columns if household in largest[:MAX_HOUSEHOLD_LINES]]
    for household, colour in zip(shown, HOUSEHOLD_COLOURS, strict=False):
        axis.plot(times, wide[household], linewidth=1.0, color=colour, label=str(household))
    others = wide.drop(columns=shown)
    if not others.empty:
        values = others.to_numpy()
        label = f"other {others.shape[1]} households"
        axis.fill_between(
            times, values.min(axis=1), values.max(axis=1), color="0.6", alpha=0.3,
            label=f"{label}: range",
        )  # fmt: skip
        axis.plot(times, values.mean(axis=1), color="0.3", linestyle="--", label=f"{label}: mean")
    axis.legend(ncols=2, fontsize=7, loc="upper left")
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xlabel(f"local time ({times.tz})")
    axis.set_ylabel("cumulative advantage [USD]")
    axis.set_title("Income advantage over the net-billing baseline (baseline − bill), cumulative")
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure
