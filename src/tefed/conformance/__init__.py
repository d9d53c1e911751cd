"""``tefed check-federate``: runs a candidate program in a small harness federation with a
probe observer and applies named checks to what the probe saw."""
