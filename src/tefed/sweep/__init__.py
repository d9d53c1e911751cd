"""``tefed sweep``: many runs of one base scenario, each with its own overrides, on Dask.

A sweep file (`tefed.sweep.sweep_file`) names a base scenario and the dotted scenario paths to
vary; `tefed.sweep.points` expands it into points (grid × zipped lists × samples × replicate
seeds) and gives each its stable run id; `tefed.sweep.execution` runs every point as its own
``tefed run`` process on a Dask cluster (a LocalCluster, a running scheduler, or batch jobs of
`tefed.sweep.batch_cluster`) and records it (`tefed.sweep.run_record`), telling
`tefed.sweep.progress_display` as it goes; `tefed.sweep.results_table` gathers the records and
summaries into ``sweep.parquet`` and `tefed.sweep.sweep_report` plots its KPIs. This layer
sits above `tefed.run` (it starts ``tefed run`` processes) and below `tefed.cli`; it imports the
scenario and build layers to validate every point before anything runs, and the reporting layer
for the report's page.
"""
