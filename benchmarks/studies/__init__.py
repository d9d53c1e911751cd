"""Reference studies run as the papers ran them: T-REX TB-1, OpenGridGym use cases 1 and 3,
TENT Fig. 2 (scripts, not tests; the README's "Reference studies" gives their figures)."""
