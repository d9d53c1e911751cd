"""tefed's federates, one package per role (price_feed, ems, grid, market), each a logic
class and a ``python -m tefed.federates.<role>`` program; ``program`` adds the run report
written by the last federate to finish."""
