"""Price sources of the price feed: retail tariffs and wholesale prices, as pure functions."""
