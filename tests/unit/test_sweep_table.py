"""The sweep's table: written as Parquet, CSV and a description, and read back (no runs)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
from federations import DEFAULT_SCENARIO

from tefed.sweep.points import resolve_points
from tefed.sweep.results_table import read_sweep_folder, sweep_runs, sweep_table, write_sweep_table
from tefed.sweep.run_record import RunRecord, completed_record, point_folder, write_record
from tefed.sweep.sweep_file import SweepFile
from tefed.sweep.sweep_report import write_sweep_report

KWP = "households.pv.pv.kwp"


def test_a_path_varied_over_a_number_and_a_list_is_written_as_json_text(tmp_path):
    # [low, high] per household beside one number for all: pyarrow refused the column
    # ("cannot mix list and non-list"), and no table was written.
    sweep = SweepFile.model_validate(
        {"base": "base.yaml", "grid": {KWP: [5, [4, 7]], "households.pv.count": [2, 3]}}
    )
    points = resolve_points(sweep, DEFAULT_SCENARIO, tmp_path)
    records = {
        point.run_id: RunRecord(point.run_id, "failed", "exit code 1: boom", 1.0, "")
        for point in points[:1]
    }
    output = tmp_path / "out"
    parquet, csv = write_sweep_table(
        sweep_table(points, records), output, "mixed", sweep.varied_paths()
    )
    assert parquet.is_file() and csv.is_file()
    table, name, parameters = read_sweep_folder(output)
    assert (name, parameters) == ("mixed", [KWP, "households.pv.count"])
    assert table[KWP].tolist() == ["5", "5", "[4, 7]", "[4, 7]"]
    assert [json.loads(text) for text in table[KWP]] == [5, 5, [4, 7], [4, 7]]
    assert table["households.pv.count"].tolist() == [2, 3, 2, 3]  # numbers stay numbers
    assert pd.read_csv(csv)[KWP].tolist() == ["5", "5", "[4, 7]", "[4, 7]"]
    manifest = json.loads((output / "sweep.json").read_text())
    assert manifest["json_parameters"] == [KWP]


def test_columns_of_one_kind_are_kept_and_other_mixtures_become_json(tmp_path):
    table = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "numbers": [1, 2.5, None],
            "texts": ["x", "y", None],
            "flags": [True, False, True],
            "flag_or_number": [True, 5, 1.5],
            "text_or_number": ["x", 5, None],
            "lists": [[1, 2], [3], []],
            "mappings": [{"a": 1}, {"b": [2]}, None],
            "status": ["complete"] * 3,
        }
    )
    parameters = [column for column in table.columns if column not in ("run_id", "status")]
    write_sweep_table(table, tmp_path, "kinds", parameters)
    back, _, _ = read_sweep_folder(tmp_path)
    assert back["numbers"].tolist()[:2] == [1.0, 2.5] and pd.isna(back["numbers"][2])
    assert back["texts"].tolist()[:2] == ["x", "y"]
    assert back["flags"].tolist() == [True, False, True]
    assert back["flag_or_number"].tolist() == ["true", "5", "1.5"]
    assert back["text_or_number"].tolist() == ['"x"', "5", "null"]
    assert back["lists"].tolist() == ["[1, 2]", "[3]", "[]"]
    assert back["mappings"].tolist() == ['{"a": 1}', '{"b": [2]}', "null"]
    assert json.loads((tmp_path / "sweep.json").read_text())["json_parameters"] == [
        "flag_or_number",
        "text_or_number",
        "lists",
        "mappings",
    ]


def test_a_table_with_a_json_column_is_read_by_the_report_and_by_compare(tmp_path):
    table = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3"],
            KWP: [5, [4, 7], 5],
            "status": ["complete", "complete", "failed"],
            "wall_time_s": [3.0, 4.0, 1.0],
            "message": ["", "", "exit code 1: boom"],
            "run_folder": [str(tmp_path / "r1"), str(tmp_path / "r2"), ""],
            "community_bill_usd": [10.0, 12.0, float("nan")],
        }
    )
    write_sweep_table(table, tmp_path, "mixed", [KWP])
    report = write_sweep_report(tmp_path, ["community_bill_usd"])
    assert [path.name for path in report.figures] == [
        f"community_bill_usd__vs__{KWP}.png",
    ]
    assert "[4, 7]" in report.page.read_text()
    # tefed compare labels each complete run with its parameters, a JSON value as its text.
    assert list(sweep_runs(tmp_path).values()) == [f"r1 {KWP}=5", f"r2 {KWP}=[4, 7]"]


def test_a_copied_sweep_folder_reads_its_own_runs(tmp_path):
    # Records and the table keep absolute run folders: a copy read the original's runs, and
    # once the original was gone, `tefed compare COPY` failed with "no summary.json".
    sweep = SweepFile.model_validate({"base": "base.yaml", "grid": {"households.pv.count": [2]}})
    (point,) = resolve_points(sweep, DEFAULT_SCENARIO, tmp_path)
    original = tmp_path / "made"
    run_folder = original / "runs" / point.run_id / "results" / "default" / "20261207T1200-abc"
    run_folder.mkdir(parents=True)
    (run_folder / "summary.json").write_text(json.dumps({"community": {"bill_usd": 1.0}}))
    record = RunRecord(point.run_id, "complete", "", 1.0, str(run_folder))
    write_record(point_folder(original, point.run_id), record)
    write_sweep_table(
        sweep_table([point], {point.run_id: record}), original, "copied", sweep.varied_paths()
    )
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    moved = copy / run_folder.relative_to(original)
    assert list(sweep_runs(copy)) == [moved]
    assert completed_record(point_folder(copy, point.run_id)).run_folder == str(moved)
    shutil.rmtree(original)
    assert list(sweep_runs(copy)) == [moved]
    assert completed_record(point_folder(copy, point.run_id)) is not None
