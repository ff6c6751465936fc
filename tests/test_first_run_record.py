"""The README's first-run times are those of bench/results/first_run.json (bench/first_run.py)."""

import json
from pathlib import Path

from bench.first_run import README_TESTS, README_TIMES, readme_numbers, readme_tests_minutes

ROOT = Path(__file__).resolve().parents[1]


def test_readme_quotes_the_recorded_first_run():
    results = json.loads((ROOT / "bench" / "results" / "first_run.json").read_text())
    found = README_TIMES.search((ROOT / "README.md").read_text())
    assert found, "the README's first-run sentence is missing"
    quoted = {key: found[key] for key in ("cold", "warm", "cpus", "load")}
    assert quoted == readme_numbers(results), (
        "README.md's first-run times differ from bench/results/first_run.json: "
        "run `python3 -m nox -s bench_first_run` (it updates both)")


def test_readme_quotes_the_suite_time_of_that_run():
    # The same run timed `nox -s tests` (`nox -s bench_first_run -- --tests`): the README says
    # how long the suite took there.
    results = json.loads((ROOT / "bench" / "results" / "first_run.json").read_text())
    found = README_TESTS.search((ROOT / "README.md").read_text())
    assert found and found["minutes"] == readme_tests_minutes(results), (
        "README.md's suite time differs from bench/results/first_run.json: run "
        "`python3 -m nox -s bench_first_run -- --tests` (it updates both)")
