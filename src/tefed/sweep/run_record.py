"""What became of one point of a sweep: its record, ``OUTPUT/runs/<run-id>/record.json``.

A record is written (atomically) when the point's ``tefed run`` ends, whatever the outcome; a
point whose record says ``complete`` and whose summary is still there is not run again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

#: Status of a run that finished with its summary.
STATUS_COMPLETE = "complete"
#: Status of a run that failed, timed out, lost its worker or left no summary.
STATUS_FAILED = "failed"
#: File of a run's record in its sweep folder.
RECORD_FILE = "record.json"
#: Folder of the points' folders in a sweep's output folder.
RUNS_FOLDER = "runs"


@dataclass(frozen=True)
class RunRecord:
    """What became of one point of a sweep.

    Attributes
    ----------
    run_id : str
        The point's stable id.
    status : str
        ``complete`` or ``failed``.
    message : str
        Why it failed (the end of ``tefed run``'s error output); empty when complete.
    wall_time_s : float
        Wall time of the ``tefed run`` process [s].
    run_folder : str
        The run folder ``tefed run`` wrote (its summary.json holds the KPIs); empty if none.
    inputs : str
        Fingerprint of the data files the point read (`points.input_files_fingerprint`);
        empty in records written before tefed kept it.
    """

    run_id: str
    status: str
    message: str
    wall_time_s: float
    run_folder: str
    inputs: str = ""


def point_folder(output_dir: Path, run_id: str) -> Path:
    """The folder of the point ``run_id`` in the sweep's ``output_dir``."""
    return output_dir / RUNS_FOLDER / run_id


def write_record(run_dir: Path, record: RunRecord) -> None:
    """Write ``record`` to ``run_dir/record.json`` (temp file, then rename)."""
    record_path = run_dir / RECORD_FILE
    partial = record_path.with_suffix(".json.part")
    partial.write_text(json.dumps(asdict(record), indent=2))
    partial.replace(record_path)


def read_record(run_dir: Path) -> RunRecord | None:
    """The record of a point's earlier run, or None if it has none (or an unreadable one)."""
    try:
        return RunRecord(**json.loads((run_dir / RECORD_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def completed_record(run_dir: Path, inputs: str = "") -> RunRecord | None:
    """The point's record if its run is complete, its summary is still there and it read the
    data files as they are now (``inputs``, the point's fingerprint of them; a record without
    one is trusted), else None."""
    record = read_record(run_dir)
    if record is None or record.status != STATUS_COMPLETE:
        return None
    if inputs and record.inputs and record.inputs != inputs:
        return None
    located = located_run_folder(run_dir.parent.parent, record.run_id, record.run_folder)
    if not (located / "summary.json").is_file():
        return None
    return replace(record, run_folder=str(located))


def located_run_folder(output_dir: Path, run_id: str, recorded: str) -> Path:
    """Where a point's run folder is now: the recorded path taken into ``output_dir`` when it
    lies in the point's folder there (a sweep folder copied or moved elsewhere records the
    absolute paths of where it was made), else the recorded path itself.

    Examples
    --------
    >>> located_run_folder(Path("/nowhere"), "abc", "/old/sweep/runs/abc/results/x/1")
    PosixPath('/old/sweep/runs/abc/results/x/1')
    """
    parts = Path(recorded).parts
    for k in range(len(parts) - 1):
        if parts[k] == RUNS_FOLDER and parts[k + 1] == run_id:
            moved = point_folder(output_dir, run_id).joinpath(*parts[k + 2 :]).resolve()
            if moved.is_dir() and moved != Path(recorded).resolve():
                return moved
    return Path(recorded)
