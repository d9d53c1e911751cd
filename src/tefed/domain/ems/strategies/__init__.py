"""Household strategies as pure array code; `tefed.domain.ems.strategy_groups` runs them.

- ``net_billing``: the baseline. No trading; a battery, if present, serves self-consumption.
- ``self_consumption`` (`simple_trader`): bids the forecast deficit, asks the surplus at fixed
  positions between export and import price; the battery steers toward the awards.
- ``ma_crossover``: T-REX's TB-1 expert trader (learned prices, moving-average crossover).
- ``optimizing`` (`schedule_lp`, `residual_flexibility`): the receding-horizon LP of Rana et al.
"""
