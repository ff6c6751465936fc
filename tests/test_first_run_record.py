"""The README's first-run times are those of bench/results/first_run.json (bench/first_run.py)."""

import json
from pathlib import Path

from bench.first_run import README_TIMES, readme_numbers

ROOT = Path(__file__).resolve().parents[1]


def test_readme_quotes_the_recorded_first_run():
    results = json.loads((ROOT / "bench" / "results" / "first_run.json").read_text())
    found = README_TIMES.search((ROOT / "README.md").read_text())
    assert found, "the README's first-run sentence is missing"
    quoted = {key: found[key] for key in ("cold", "warm", "cpus", "load")}
    assert quoted == readme_numbers(results), (
        "README.md's first-run times differ from bench/results/first_run.json: "
        "run `python3 -m nox -s bench_first_run` (it updates both)")
