"""Order books of OpenGridGym-style affine bids: validation and the arithmetic of their curves.

An affine order is the quadruple (``price_max``, ``price_min``, ``power_max``, ``power_min``) of
one participant on one side, with the convention of `curve_clearing.affine_curve_vertices`. This
module is pure; `tefed.domain.market.mechanisms.dlmp` clears such books on a network.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tefed.domain.market.frames import typed_frame
from tefed.domain.refusals import refuse_rows

ORDER_COLUMNS = (
    "order_id",
    "participant",
    "side",
    "price_max_usd_per_kwh",
    "price_min_usd_per_kwh",
    "power_max_kw",
    "power_min_kw",
)
SIDES = ("buy", "sell")
#: Coefficients per participant and side written by `participant_coefficients`.
COEFFICIENTS = (
    "buy_min",
    "buy_max",
    "buy_value",
    "buy_slope",
    "sell_min",
    "sell_max",
    "sell_cost",
    "sell_slope",
)


def validated_orders(orders: pd.DataFrame, participants: pd.Index) -> pd.DataFrame:
    """Check an affine order book and add each order's participant position and slope.

    Parameters
    ----------
    orders : pandas.DataFrame
        ``ORDER_COLUMNS``: ``order_id`` (unique), ``participant`` (in ``participants``),
        ``side`` (``buy``/``sell``, at most one order per participant and side), prices
        ``price_max_usd_per_kwh >= price_min_usd_per_kwh`` [USD/kWh] and powers
        ``0 <= power_min_kw <= power_max_kw`` [kW], all finite.
    participants : pandas.Index
        The participants of the market.

    Returns
    -------
    pandas.DataFrame
        The order columns (numbers as float, index reset) plus ``who`` (position in
        ``participants``) and ``slope`` [USD/kWh per kW]; ``attrs["n_participants"]``.

    Raises
    ------
    ValueError
        On a missing column or an invalid value, naming the orders, the field and what was
        expected.

    Notes
    -----
    :math:`\\beta = (p_{max} - p_{min}) / (q_{max} - q_{min})`; 0 for a step bid
    (:math:`p_{max} = p_{min}`) and for a fixed power (:math:`q_{max} - q_{min} \\le 10^{-9}
    \\max(q_{max}, 1)`).

    Examples
    --------
    >>> book = validated_orders(pd.DataFrame({
    ...     "order_id": ["o1"], "participant": ["home"], "side": ["buy"],
    ...     "price_max_usd_per_kwh": [0.30], "price_min_usd_per_kwh": [0.10],
    ...     "power_max_kw": [12.0], "power_min_kw": [2.0]}), pd.Index(["pv", "home"]))
    >>> int(book.loc[0, "who"]), round(float(book.loc[0, "slope"]), 6)
    (1, 0.02)
    """
    missing = [column for column in ORDER_COLUMNS if column not in orders.columns]
    if missing:
        raise ValueError(f"orders: missing column(s) {missing}, expected {list(ORDER_COLUMNS)}")
    # Each column is read once; checks and arithmetic run on numpy arrays. Refusals name rows
    # by position, which ``orders`` and the book share.
    ids = orders["order_id"]
    bad_id = pd.isna(ids.to_numpy(dtype=object)) | ids.duplicated(keep=False).to_numpy()
    _refuse(orders, ids, bad_id, "order_id", "unique, not null")
    side = orders["side"].to_numpy(dtype=object)
    _refuse(orders, side, ~np.isin(side, SIDES), "side", SIDES)
    participant = orders["participant"]
    who = participants.get_indexer(participant)
    _refuse(orders, participant, who < 0, "participant", "a participant of the market")
    # Every participant and side is known now: one code per (participant, side) pair.
    pair = 2 * who + (side == "sell")
    repeated = np.ones(len(pair), dtype=bool)
    repeated[np.unique(pair, return_index=True)[1]] = False
    _refuse(orders, participant, repeated, "participant", "one order per side")
    number = {}
    for column in ORDER_COLUMNS[3:]:
        raw = orders[column]
        number[column] = (
            raw.to_numpy(copy=True)
            if raw.dtype == np.float64
            else pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
        )
        _refuse(orders, raw, ~np.isfinite(number[column]), column, "finite")
    p_max, p_min = number["price_max_usd_per_kwh"], number["price_min_usd_per_kwh"]
    q_max, q_min = number["power_max_kw"], number["power_min_kw"]
    _refuse(orders, p_max, p_max < p_min, "price_max_usd_per_kwh", ">= price_min_usd_per_kwh")
    _refuse(orders, q_min, q_min < 0, "power_min_kw", ">= 0 [kW]")
    _refuse(orders, q_max, q_max < q_min, "power_max_kw", ">= power_min_kw [kW]")
    width = q_max - q_min
    steep = width > 1e-9 * np.maximum(q_max, 1.0)
    book = typed_frame(
        {
            # Identifier columns keep their dtype.
            **{name: _as_given(orders[name]) for name in ORDER_COLUMNS[:3]},
            **number,
            "slope": np.where(steep, (p_max - p_min) / np.where(steep, width, 1.0), 0.0),
            "who": who,
        }
    )
    book.attrs["n_participants"] = len(participants)
    return book


def awards_at_price(book: pd.DataFrame, price_usd_per_kwh: float) -> np.ndarray:
    """Power each order asks for at one price, read off its own curve [kW].

    Parameters
    ----------
    book : pandas.DataFrame
        A book from `validated_orders`.
    price_usd_per_kwh : float
        The price [USD/kWh].

    Returns
    -------
    numpy.ndarray
        Power magnitude per order in book order [kW], within ``[power_min, power_max]``.

    Notes
    -----
    Buyer: :math:`q_{min} + (p_{max} - p) / \\beta`, seller: :math:`q_{min} + (p - p_{min}) /
    \\beta`, clipped to the power range; a step bid takes ``power_max`` when the price is on
    its side of the step or at it, else ``power_min``.

    Examples
    --------
    A buyer falling from 12 kW at 0.10 to 2 kW at 0.30 USD/kWh asks 2 + 0.18 / 0.02 = 11 kW at
    0.12.

    >>> book = validated_orders(pd.DataFrame({
    ...     "order_id": ["o1"], "participant": ["home"], "side": ["buy"],
    ...     "price_max_usd_per_kwh": [0.30], "price_min_usd_per_kwh": [0.10],
    ...     "power_max_kw": [12.0], "power_min_kw": [2.0]}), pd.Index(["home"]))
    >>> awards_at_price(book, 0.12).round(9).tolist()
    [11.0]
    """
    q_max, q_min = book["power_max_kw"].to_numpy(), book["power_min_kw"].to_numpy()
    slope = book["slope"].to_numpy()
    room = np.where(
        book["side"].to_numpy(dtype=object) == "buy",
        book["price_max_usd_per_kwh"].to_numpy() - price_usd_per_kwh,
        price_usd_per_kwh - book["price_min_usd_per_kwh"].to_numpy(),
    )
    on_curve = q_min + room / np.where(slope > 0, slope, 1.0)
    step = np.where(room >= 0, q_max, q_min)
    return np.clip(np.where(slope > 0, on_curve, step), q_min, q_max)


def order_welfare(book: pd.DataFrame, power_kw: np.ndarray) -> float:
    """Buyers' benefit minus sellers' cost of given awards [USD/h].

    Parameters
    ----------
    book : pandas.DataFrame
        A book from `validated_orders`.
    power_kw : numpy.ndarray
        Award per order [kW] (+ consumption, − generation), within each order's range.

    Returns
    -------
    float
        :math:`\\sum_{buy} [p_{max} d - \\tfrac{\\beta}{2} (d - q_{min})^2]
        - \\sum_{sell} [p_{min} g + \\tfrac{\\beta}{2} (g - q_{min})^2]` [USD/h]: the area under
        each curve, the inelastic part valued at the curve's end price.

    Examples
    --------
    The buyer above at 11 kW: 0.30 * 11 - 0.01 * 9² = 2.49 USD/h.

    >>> book = validated_orders(pd.DataFrame({
    ...     "order_id": ["o1"], "participant": ["home"], "side": ["buy"],
    ...     "price_max_usd_per_kwh": [0.30], "price_min_usd_per_kwh": [0.10],
    ...     "power_max_kw": [12.0], "power_min_kw": [2.0]}), pd.Index(["home"]))
    >>> round(order_welfare(book, np.array([11.0])), 9)
    2.49
    """
    buy = book["side"].to_numpy(dtype=object) == "buy"
    served, low, slope = np.abs(power_kw), book["power_min_kw"].to_numpy(), book["slope"].to_numpy()
    end_price = np.where(
        buy, book["price_max_usd_per_kwh"].to_numpy(), book["price_min_usd_per_kwh"].to_numpy()
    )
    each = end_price * served + np.where(buy, -0.5, 0.5) * slope * (served - low) ** 2
    return float(np.where(buy, each, -each).sum())


def participant_coefficients(book: pd.DataFrame) -> dict[str, np.ndarray]:
    """Award bounds and quadratic-objective coefficients per participant and side.

    Parameters
    ----------
    book : pandas.DataFrame
        A book from `validated_orders`.

    Returns
    -------
    dict of str to numpy.ndarray
        ``COEFFICIENTS``, one value per participant (0 without an order on that side):
        bounds ``*_min``, ``*_max`` [kW], linear ``buy_value``/``sell_cost`` [USD/kWh] and
        ``*_slope`` [USD/kWh per kW].

    Notes
    -----
    Up to constants, :math:`-B(d) = \\tfrac{\\beta}{2} d^2 - (p_{max} + \\beta q_{min}) d` and
    :math:`C(g) = \\tfrac{\\beta}{2} g^2 + (p_{min} - \\beta q_{min}) g` (see `order_welfare`).

    Examples
    --------
    >>> book = validated_orders(pd.DataFrame({
    ...     "order_id": ["o1"], "participant": ["home"], "side": ["buy"],
    ...     "price_max_usd_per_kwh": [0.30], "price_min_usd_per_kwh": [0.10],
    ...     "power_max_kw": [12.0], "power_min_kw": [2.0]}), pd.Index(["pv", "home"]))
    >>> values = participant_coefficients(book)
    >>> values["buy_value"].round(9).tolist(), values["sell_max"].tolist()
    ([0.0, 0.34], [0.0, 0.0])
    """
    n_part = book.attrs["n_participants"]
    values = {name: np.zeros(n_part) for name in COEFFICIENTS}
    order_side = book["side"].to_numpy(dtype=object)
    column = {
        name: book[name].to_numpy()
        for name in ("who", "slope", "power_min_kw", "power_max_kw", *ORDER_COLUMNS[3:5])
    }
    for side, linear, price, sign in (
        ("buy", "buy_value", "price_max_usd_per_kwh", 1.0),
        ("sell", "sell_cost", "price_min_usd_per_kwh", -1.0),
    ):
        rows = order_side == side
        who, slope, low = column["who"][rows], column["slope"][rows], column["power_min_kw"][rows]
        values[f"{side}_min"][who] = low
        values[f"{side}_max"][who] = column["power_max_kw"][rows]
        values[f"{side}_slope"][who] = slope
        values[linear][who] = column[price][rows] + sign * slope * low
    return values


def reactive_ratio(power_factor: float | pd.Series, participants: pd.Index) -> np.ndarray:
    """Reactive over active power of each participant, ``tan(acos(pf))`` [kvar/kW].

    Parameters
    ----------
    power_factor : float or pandas.Series
        One power factor in (0, 1] for everyone, or one per participant (indexed by name).
    participants : pandas.Index
        The participants.

    Raises
    ------
    ValueError
        If a power factor is missing or outside (0, 1], naming the participants.

    Examples
    --------
    pf 0.8 is the 3-4-5 triangle: Q/P = 0.6 / 0.8 = 0.75.

    >>> reactive_ratio(pd.Series({"a": 0.8, "b": 1.0}), pd.Index(["a", "b"])).round(12).tolist()
    [0.75, 0.0]
    """
    if isinstance(power_factor, pd.Series):
        pf = power_factor.reindex(participants).to_numpy(dtype=float)
    else:
        pf = np.full(len(participants), float(power_factor))
    bad = ~((pf > 0) & (pf <= 1))
    if bad.any():
        shown = dict(zip(participants[bad][:5], pf[bad][:5].tolist(), strict=True))
        raise ValueError(f"power_factor: got {shown}, expected in (0, 1] for every participant")
    return np.tan(np.arccos(pf))


def _as_given(column: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A copy of a column's values with its dtype: its extension array, or its numpy array."""
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.array.copy()
    return column.to_numpy(copy=True)


def _refuse(table: pd.DataFrame, values: pd.Series, bad, field: str, want) -> None:
    """Raise ValueError naming the first offending rows, the field and the expectation."""
    refuse_rows(table, "order_id", values, bad, f"orders.{field}", str(want))
