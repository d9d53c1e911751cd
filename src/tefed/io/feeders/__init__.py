"""Feeder generators (European LV, North American split-phase), their common layout, and
placing households on a feeder's buses; ``loader`` gives the feeder of a federation file."""
