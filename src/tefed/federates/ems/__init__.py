"""Household energy-management federate: many households per process, held as arrays."""
