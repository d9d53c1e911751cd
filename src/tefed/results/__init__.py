"""A run's results for analysis in Python: ``tefed.results.load(run_folder)``.

`load` returns a `RunResults`: every table the run has written as pandas DataFrames with one
time convention (``time_s`` and a time-zone-aware ``timestamp`` in every time-indexed table),
``summary.json`` as typed objects (`RunSummary`), the run's status and its federation file. It
works on finished, failed and running runs alike. This layer reads the run folder through the
analysis layer and the contract; reporting and everything above may use it.
"""

from tefed.results.run_results import RunResults, RunStatus, load, with_time_columns
from tefed.results.summary_model import RunSummary

__all__ = ["RunResults", "RunStatus", "RunSummary", "load", "with_time_columns"]
