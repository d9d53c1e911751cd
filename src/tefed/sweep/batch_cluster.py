"""Batch clusters for sweeps: Slurm, PBS and SGE jobs of Dask workers through dask-jobqueue.

``tefed sweep --cluster KIND`` starts a Dask scheduler on the submitting host and submits
``cluster.jobs`` batch jobs (`tefed.sweep.sweep_file.ClusterSpec`); each job starts
``runs_per_job`` single-threaded workers with this interpreter, so each worker runs one
federation at a time. The cores and memory of a job are requested for all its runs together
(``runs_per_job · cores_per_run``): Slurm through ``--cpus-per-task`` and ``--mem``, PBS through
``-l select=1:ncpus=…:mem=…``, SGE through a parallel environment (``-pe smp N``) and
``h_vmem`` per slot. Workers must see the base scenario and the sweep's output folder at the
same paths as the submitting host (a shared file system), like the workers of ``--scheduler``.

dask-jobqueue is imported only when a batch cluster is made: importing it replaces the process's
SIGINT handler with ``sys.exit`` (``dask_jobqueue.runner``), which would turn every sweep's
Ctrl-C into a silent exit; the handler is put back after the import.
"""

from __future__ import annotations

import importlib
import signal
import sys
from typing import Any

from distributed import SpecCluster

from tefed.sweep.sweep_file import ClusterSpec

#: The batch systems of ``--cluster`` and the names of their dask-jobqueue clusters.
CLUSTER_KINDS: dict[str, str] = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
}


def job_queue_cluster(kind: str, spec: ClusterSpec) -> SpecCluster:
    """A dask-jobqueue cluster of ``kind`` (no job submitted yet: ``scale`` submits them).

    Parameters
    ----------
    kind : str
        One of `CLUSTER_KINDS`.
    spec : ClusterSpec
        The sweep file's ``cluster`` section.
    """
    handler = signal.getsignal(signal.SIGINT)
    jobqueue = importlib.import_module("dask_jobqueue")
    signal.signal(signal.SIGINT, handler)
    return getattr(jobqueue, CLUSTER_KINDS[kind])(**_cluster_options(kind, spec))


def _cluster_options(kind: str, spec: ClusterSpec) -> dict[str, Any]:
    """Keyword arguments of the dask-jobqueue cluster of ``kind`` for ``spec``."""
    cores = spec.runs_per_job * spec.cores_per_run
    memory_gb = spec.runs_per_job * spec.memory_per_run_gb
    options: dict[str, Any] = {
        # Dask's cores and processes: one single-threaded worker per run of the job.
        "cores": spec.runs_per_job,
        "processes": spec.runs_per_job,
        "memory": f"{memory_gb:g}GB",
        "walltime": spec.walltime,
        "queue": spec.queue,
        "job_name": "tefed-sweep",
        "job_script_prologue": list(spec.prologue),
        "job_extra_directives": list(spec.job_directives),
        "python": sys.executable,
        "scheduler_options": {"dashboard_address": None},
    }
    if kind == "slurm":
        options.update(account=spec.account, job_cpu=cores, job_mem=f"{memory_gb:g}GB")
    elif kind == "pbs":
        options.update(
            account=spec.account, resource_spec=f"select=1:ncpus={cores}:mem={memory_gb:g}GB"
        )
    else:
        per_slot_gb = memory_gb / cores
        options.update(
            project=spec.account,
            resource_spec=f"h_vmem={per_slot_gb:g}G",
            job_extra_directives=[
                f"-pe {spec.sge_parallel_environment} {cores}",
                *spec.job_directives,
            ],
        )
    return options


def job_script(kind: str, spec: ClusterSpec) -> str:
    """The batch script each job of ``kind`` would run (nothing is submitted).

    The script names the scheduler's address; the scheduler started to generate it is closed
    again, so the address in the printed script is an example of the form, not one to use.
    """
    with job_queue_cluster(kind, spec) as cluster:
        return cluster.job_script()
