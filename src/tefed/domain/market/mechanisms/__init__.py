"""Market clearing mechanisms: pure functions and models over one interval's orders.

- `double_auction`: MicroTE pairwise double auction with pools (T-REX), helped by `order_book`
  (validation, ranking), `pro_rata` (sharing among equal-price orders) and `level_pairing`
  (who trades with whom inside an equal-price level pair);
- `curve_clearing`: TENT uniform-price clearing of piecewise-linear curves, on its multi-period
  core `curve_periods` (every period of a day-ahead market at once);
- `matching_engine`: TENT continuous double auction with a standing book;
- `dlmp` on `network_model`: welfare-maximising clearing on a LinDistFlow feeder model, DLMPs.

`tefed.domain.market.clearing` puts them behind one interface for the market federate.
"""
