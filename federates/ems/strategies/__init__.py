"""Household strategies: what a household orders and how its battery follows the outcome.

- ``net_billing``: the baseline. No trading; a battery, if present, serves self-consumption
  (it fills the gap between the household's net power and zero). Everything is settled with the
  grid at the net-billing import and export prices.
- ``simple_trader``: forecasts its net energy for the next interval (with its battery doing
  self-consumption), bids the deficit or asks the surplus at a price between the export and the
  import price, and during delivery steers its battery toward the awarded net power.
"""

STRATEGIES = ("net_billing", "simple_trader")
