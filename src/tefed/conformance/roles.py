"""The roles a program under ``tefed check-federate`` can take (no imports: the command line
reads them before anything runs)."""

#: Roles a candidate can take; ``household`` is one household taken out of the built-in ems.
ROLES = ("market", "ems", "household", "price_feed", "grid")
#: Roles whose households send orders.
ORDERING_ROLES = ("ems", "household")
