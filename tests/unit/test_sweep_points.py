"""Sweep files: expansion into points (grid, zip, samples, seeds), stable run ids, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from federations import DEFAULT_SCENARIO
from pydantic import ValidationError

from tefed.cli import main
from tefed.contract.errors import InputError
from tefed.scenario.overrides import parse_assignment
from tefed.sweep.points import parameter_rows, resolve_points, sample_rows, scenario_run_id
from tefed.sweep.run_record import RunRecord, completed_record, write_record
from tefed.sweep.sweep_file import SampleSpec, SweepFile, read_sweep_file
from tefed.sweep.sweep_run import plan_sweep

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "scenarios" / "sweeps" / "battery_market.yaml"


def sweep_of(**sections: object) -> SweepFile:
    return SweepFile.model_validate({"base": "base.yaml", **sections})


def write_sweep(folder: Path, **sections: object) -> Path:
    path = folder / "sweep.yaml"
    data = {"base": str(DEFAULT_SCENARIO), **sections}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_grid_gives_every_combination():
    rows = parameter_rows(sweep_of(grid={"a": [1, 2, 3], "b": ["x", "y"]}))
    assert len(rows) == 6
    assert {(row["a"], row["b"]) for row in rows} == {(a, b) for a in (1, 2, 3) for b in "xy"}


def test_zipped_lists_go_side_by_side_and_multiply_the_grid_and_seeds():
    sweep = sweep_of(grid={"a": [1, 2]}, zip={"c": [1, 2, 3], "d": [4, 5, 6]}, seeds=[0, 1])
    rows = parameter_rows(sweep)
    assert len(rows) == 2 * 3 * 2
    assert all(row["d"] == row["c"] + 3 for row in rows)
    assert sweep.varied_paths() == ["a", "c", "d", "seed"]


def test_a_latin_hypercube_puts_one_draw_in_each_slice_of_every_range():
    spec = SampleSpec(count=10, method="lhs", seed=5, ranges={"x": (2.0, 4.0), "n": (1, 10)})
    rows = sample_rows(spec)
    slices = sorted(int((row["x"] - 2.0) / 0.2) for row in rows)
    assert slices == list(range(10))
    assert sorted(row["n"] for row in rows) == list(range(1, 11))
    assert all(isinstance(row["n"], int) and isinstance(row["x"], float) for row in rows)
    assert sample_rows(spec) == rows  # the seed fixes the draws


def test_random_samples_stay_in_their_ranges_and_follow_the_seed():
    spec = SampleSpec(count=50, method="random", seed=2, ranges={"p": (0.03, 0.09), "k": (1, 3)})
    rows = sample_rows(spec)
    prices = np.array([row["p"] for row in rows])
    assert len(rows) == 50
    assert prices.min() >= 0.03 and prices.max() < 0.09
    assert {row["k"] for row in rows} == {1, 2, 3}
    other = sample_rows(SampleSpec(count=50, method="random", seed=3, ranges=spec.ranges))
    assert other != rows


def test_run_ids_are_stable_and_differ_between_scenarios(tmp_path):
    sweep = sweep_of(grid={"households.pv.count": [2, 3]}, set={"time.duration_s": 3600})
    first = resolve_points(sweep, DEFAULT_SCENARIO, tmp_path)
    again = resolve_points(sweep, DEFAULT_SCENARIO, tmp_path)
    assert [point.run_id for point in first] == [point.run_id for point in again]
    assert len({point.run_id for point in first}) == 2
    assert all(len(point.run_id) == 12 for point in first)
    assert first[0].overrides == {"time.duration_s": 3600, "households.pv.count": 2}
    assert scenario_run_id(first[0].scenario) == first[0].run_id


def test_the_example_sweep_has_four_runs():
    planned = plan_sweep(EXAMPLE)
    assert len(planned.points) == 4
    assert {point.scenario.market.mechanism for point in planned.points} == {
        "double_auction",
        "curve_clearing",
    }
    assert {point.scenario.time.duration_s for point in planned.points} == {3600}


def test_dates_written_without_quotes_are_swept_as_their_text(tmp_path):
    # YAML 1.1 reads an unquoted date-time as a timestamp; each run gets it as --set text.
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"base: {DEFAULT_SCENARIO}\n"
        "set:\n  time.duration_s: 3600\n"
        "grid:\n  time.start: [2022-06-21T10:00:00, 2022-12-21 10:00:00]\n"
    )
    planned = plan_sweep(path)
    assert [point.overrides["time.start"] for point in planned.points] == [
        "2022-06-21T10:00:00",
        "2022-12-21 10:00:00",
    ]
    assert [point.scenario.time.start for point in planned.points] == [
        "2022-06-21T10:00:00",
        "2022-12-21 10:00:00",
    ]
    assert len({point.run_id for point in planned.points}) == 2
    # Written as each run's --set value and read back as the same text.
    for point in planned.points:
        assignment = f"time.start={json.dumps(point.overrides['time.start'])}"
        assert parse_assignment(assignment)[1] == point.overrides["time.start"]


@pytest.mark.parametrize(
    ("sections", "fragments"),
    [
        ({"grid": {"a": []}}, ["grid: expected at least one value for ['a']"]),
        ({"zip": {"a": [1, 2], "b": [1]}}, ["expected lists of one length"]),
        ({"grid": {"seed": [1]}, "seeds": [1, 2]}, ["repeated: ['seed']"]),
        ({"samples": {"count": 0, "ranges": {"x": [2, 1]}}}, ["samples.count", "low <= high"]),
        (
            {"samples": {"count": True, "ranges": {"x": [1, 2]}}},
            ["samples: count: got true; expected a number, not true or false"],
        ),
        ({"grid": {"market..x": [1]}}, ["'market..x': expected a dotted path"]),
        ({"gird": {"a": [1]}}, ["gird: unknown key"]),
        ({"samples": {"count": 2, "method": "sobol", "ranges": {"x": [0, 1]}}}, ["method"]),
        ({"seeds": [1, "two"]}, ["seeds.1: got 'two'"]),
        ({"grid": {"a": 5}}, ["grid.a", "list"]),
        ({"name": "a/../../x"}, ["name: got 'a/../../x'", "letters, digits"]),
    ],
)
def test_a_bad_sweep_file_names_every_problem(tmp_path, sections, fragments):
    with pytest.raises(InputError) as error:
        read_sweep_file(write_sweep(tmp_path, **sections))
    text = " ".join(str(error.value).split())
    for fragment in fragments:
        assert fragment in text, (fragment, text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("base: [unclosed\n", "not valid YAML"),
        ("- base.yaml\n", "expected a mapping (base, grid, zip, samples, seeds)"),
        (None, "file not found"),
        # A sweep file is read within a scenario file's bounds: an alias bomb is refused at
        # once, not expanded into 10^9 values.
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "base: base.yaml\n",
            "more than 20000 values",
        ),
        ("base: base.yaml\nbase: other.yaml\n", "duplicate key"),
    ],
)
def test_an_unreadable_sweep_file_is_named_with_exit_2(tmp_path, capsys, text, fragment):
    path = tmp_path / "sweep.yaml"
    if text is not None:
        path.write_text(text)
    assert main(["sweep", str(path)]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert str(path) in error and fragment in error, error
    assert "Traceback" not in error


def test_a_missing_base_is_named(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("base: absent.yaml\ngrid: {seed: [1, 2]}\n")
    with pytest.raises(InputError, match=r"base: got 'absent\.yaml'; no such file"):
        read_sweep_file(path)


def test_bad_paths_and_values_of_the_points_are_named_once_with_exit_2(tmp_path, capsys):
    sweep = write_sweep(
        tmp_path,
        grid={"households.pv.count": [2, -1], "households.wind.count": [1]},
        zip={"market.settlement_rule": ["midpoint", "cheap"]},
    )
    assert main(["sweep", str(sweep), "-o", str(tmp_path / "out")]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "households.wind: the base has no group 'wind'" in message
    assert "; in 4 runs)" in message  # the unknown group is in every run, named once
    assert "households[1].count: got -1" in message
    assert "market.settlement_rule: got 'cheap'" in message
    assert not (tmp_path / "out").exists()


def test_an_unknown_key_swept_over_values_is_named_once(tmp_path, capsys):
    sweep = write_sweep(tmp_path, grid={"households.pv.cuont": [1, 2, 3]})
    assert main(["sweep", str(sweep), "-o", str(tmp_path / "out")]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert message.count("cuont") == 2  # the problem and the point it is named at
    assert (
        "households[1].cuont: unknown key; remove or rename it (at households.pv.cuont=1; "
        "in 3 runs)" in message
    )


def test_points_resolving_to_one_scenario_are_refused(tmp_path):
    sweep = sweep_of(grid={"households.pv.count": [4, 4]})
    with pytest.raises(InputError, match="resolve to the same scenario"):
        resolve_points(sweep, DEFAULT_SCENARIO, tmp_path)


def test_lockstep_points_must_have_only_built_in_federates(tmp_path):
    external = [{"household_id": "h01", "exec": "python my_agent.py"}]
    sweep = sweep_of(engine="lockstep", grid={"ems.external": [external, []]})
    with pytest.raises(InputError) as raised:
        resolve_points(sweep, DEFAULT_SCENARIO, tmp_path)
    (problem,) = raised.value.problems
    assert problem.startswith(
        "engine: lockstep steps only tefed's built-in federates; federates[household_h01] "
        "runs 'python my_agent.py"
    ), problem
    assert "(use engine: helics) (at ems.external=" in problem
    helics = resolve_points(
        sweep.model_copy(update={"engine": "helics"}), DEFAULT_SCENARIO, tmp_path
    )
    assert len(helics) == 2


@pytest.mark.parametrize(
    ("sections", "options"),
    [
        ({}, ["--no-plots"]),
        ({"engine": "lockstep"}, ["--lockstep", "--no-plots"]),
        ({"engine": "lockstep", "plots": True}, ["--lockstep"]),
        ({"plots": True}, []),
    ],
)
def test_the_engine_and_plots_become_options_of_every_run(sections, options):
    assert sweep_of(**sections).run_options() == options


def test_an_unknown_engine_is_named():
    with pytest.raises(ValidationError, match="engine"):
        sweep_of(engine="threads")


def test_a_range_draws_integers_only_when_both_bounds_are_written_as_integers(tmp_path):
    # YAML reads 5 as an integer and 5.0 as a float; pydantic's lax mode used to make 5.0 the
    # integer 5, and a range of 0.0 to 1.0 drew only 0 or 1.
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "base: base.yaml\n"
        "samples:\n  count: 4\n  method: random\n  seed: 3\n  ranges:\n"
        "    prices.export_price_usd_per_kwh: [0.0, 1.0]\n"
        "    households.pv_battery.battery.capacity_kwh: [5.0, 20.0]\n"
        "    households.pv.pv.kwp: [4, 7.5]\n"
        "    households.pv.count: [1, 6]\n"
    )
    (tmp_path / "base.yaml").write_text("{}\n")
    rows = sample_rows(read_sweep_file(path).samples)
    for path_name in (
        "prices.export_price_usd_per_kwh",
        "households.pv_battery.battery.capacity_kwh",
        "households.pv.pv.kwp",
    ):
        values = [row[path_name] for row in rows]
        assert all(isinstance(value, float) for value in values), (path_name, values)
        assert len(set(values)) == 4 and not all(value.is_integer() for value in values)
    assert rows[0]["prices.export_price_usd_per_kwh"] not in (0.0, 1.0)
    assert all(isinstance(row["households.pv.count"], int) for row in rows)
    assert all(1 <= row["households.pv.count"] <= 6 for row in rows)


@pytest.mark.parametrize(
    "bounds", [[True, 3], [0.5, False], ["1", "2"], [1], [1, 2, 3], [float("nan"), 2]]
)
def test_a_range_that_is_not_two_numbers_is_named(tmp_path, bounds):
    sweep = write_sweep(tmp_path, samples={"count": 2, "ranges": {"households.pv.count": bounds}})
    with pytest.raises(InputError) as error:
        read_sweep_file(sweep)
    text = " ".join(str(error.value).split())
    assert "samples.ranges" in text and "households.pv.count" in text, text
    assert f"got {bounds!r}" in text and "expected [low, high], two finite numbers" in text, text


def test_the_run_count_is_the_product_the_file_defines():
    sweep = sweep_of(
        grid={"a": [1, 2], "b": ["x", "y", "z"]},
        zip={"c": [1, 2], "d": [3, 4]},
        samples={"count": 3, "ranges": {"e": [0.0, 1.0]}},
        seeds=[1, 2],
    )
    assert sweep.run_count() == 2 * 3 * 2 * 3 * 2 == len(parameter_rows(sweep))
    assert sweep_of().run_count() == 1 == len(parameter_rows(sweep_of()))


@pytest.mark.parametrize(
    ("sections", "count", "origin"),
    [
        (
            {"grid": {f"households.pv.p{index}": list(range(100)) for index in range(5)}},
            "10000000000",
            "grid 100 × 100 × 100 × 100 × 100",
        ),
        (
            {"grid": {"households.pv.count": list(range(1000))},
             "zip": {"a": [1] * 100, "b": [2] * 100},
             "samples": {"count": 2, "ranges": {"c": [0, 1]}}, "seeds": [1, 2, 3]},
            "600000",
            "grid 1000 × zip 100 × samples 2 × seeds 3",
        ),
        ({"samples": {"count": 10**12, "ranges": {"c": [0, 1]}}}, "1000000000000", "samples"),
    ],
)  # fmt: skip
def test_a_sweep_of_more_runs_than_the_limit_is_refused_before_they_are_made(
    tmp_path, capsys, monkeypatch, sections, count, origin
):
    # Five grid lists of 100 values were expanded in memory (MemoryError after 1.7 GB), and a
    # grid of a million runs was checked for hours without a word.
    def must_not_expand(sweep):
        raise AssertionError("the runs were made")

    monkeypatch.setattr("tefed.sweep.points.parameter_rows", must_not_expand)
    sweep = write_sweep(tmp_path, **sections)
    assert main(["sweep", str(sweep), "--check"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"defines {count} runs ({origin}" in message, message
    assert "at most 100000 runs in one sweep" in message
    assert "Traceback" not in message


def test_the_run_count_is_printed_before_the_runs_are_checked(tmp_path, capsys, monkeypatch):
    def stop_checking(*arguments):
        raise KeyboardInterrupt  # where checking would begin

    monkeypatch.setattr("tefed.sweep.sweep_run.resolve_points", stop_checking)
    sweep = write_sweep(tmp_path, grid={"households.pv.count": [1, 2, 3]}, seeds=[1, 2])
    with pytest.raises(KeyboardInterrupt):
        main(["sweep", str(sweep), "--check", "-o", str(tmp_path / "out")])
    assert f"{sweep}: 6 runs into {tmp_path / 'out'}; checking them" in capsys.readouterr().out


def test_a_point_s_fingerprint_follows_the_data_files_it_reads(tmp_path: Path):
    # Before, a rerun kept a complete run after the prices file it read had changed (the run id
    # hashes the scenario's text, which names the file, not what it holds).
    prices = tmp_path / "prices.csv"
    hours = [f"2022-06-21 {hour:02d}:00:00,40.0" for hour in range(24)]
    prices.write_text("timestamp,price_usd_per_mwh\n" + "\n".join(hours) + "\n")
    base = tmp_path / "base.yaml"
    base.write_text(
        yaml.safe_dump(
            {
                "extends": str(DEFAULT_SCENARIO),
                "name": "files",
                "time": {"start": "2022-06-21T11:00:00", "duration_s": 3600},
                "run": {"results_root": str(tmp_path / "results")},
                "prices": {"wholesale": {"source": "csv", "path": "prices.csv", "timezone": "UTC"}},
            }
        )
    )
    sweep = sweep_of(grid={"prices.export_price_usd_per_kwh": [0.05, 0.06]})
    first = resolve_points(sweep, base, tmp_path)
    again = resolve_points(sweep, base, tmp_path)
    assert [p.inputs for p in first] == [p.inputs for p in again]
    assert first[0].inputs == first[1].inputs != ""
    prices.write_text(prices.read_text().replace("40.0", "200.0"))
    changed = resolve_points(sweep, base, tmp_path)
    assert [p.run_id for p in changed] == [p.run_id for p in first]
    assert changed[0].inputs != first[0].inputs


def test_a_complete_record_of_other_inputs_is_run_again(tmp_path: Path):
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    (run_folder / "summary.json").write_text("{}")
    write_record(tmp_path, RunRecord("abc", "complete", "", 1.0, str(run_folder), "f1"))
    assert completed_record(tmp_path, "f1") is not None
    assert completed_record(tmp_path, "f2") is None
    # A record written before tefed kept the fingerprint is trusted, as it was.
    write_record(tmp_path, RunRecord("abc", "complete", "", 1.0, str(run_folder)))
    assert completed_record(tmp_path, "f2") is not None
