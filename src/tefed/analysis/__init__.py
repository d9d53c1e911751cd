"""What a run's tables mean: KPIs of households, market and grid, balance and ledger checks,
the run summary (``summary.json``) and comparison of runs."""
