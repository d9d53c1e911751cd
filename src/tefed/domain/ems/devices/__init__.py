"""Household devices (battery, load, PV) as pure functions over arrays indexed by household."""
