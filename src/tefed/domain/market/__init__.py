"""Market rules: order intake, clearing through the mechanisms, awards, settlement against
metered energy, and the ledger with its checks."""
