"""tefed's federates: grid, market, ems (households) and price_feed, plus their shared runtime."""
