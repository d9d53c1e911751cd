"""Households: devices (battery, EV, load, PV), strategies, order forms and strategy groups
that step many households at once as arrays."""
