"""The guarantee mutations still apply to the code (nox -s mutate runs them; this keeps a code
change that moves a row's text from being noticed only there)."""

import ast
from pathlib import Path

import pytest

from tests.mutation.guarantees import GUARANTEES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("row", GUARANTEES, ids=[row["name"] for row in GUARANTEES])
def test_row_patches_exactly_one_place_and_names_existing_tests(row):
    source = (ROOT / row["file"]).read_text()
    assert source.count(row["old"]) == 1, f"{row['name']}: 'old' must occur exactly once"
    mutated = source.replace(row["old"], row["new"])
    assert mutated != source
    if row["file"].endswith(".py"):  # a Python mutant parses: a test must fail on behaviour
        ast.parse(mutated)
    for node_id in row["tests"]:
        path, _, name = node_id.partition("::")
        assert (ROOT / path).is_file(), node_id
        if name:
            assert f"def {name.split('[')[0]}(" in (ROOT / path).read_text(), node_id


def test_row_names_are_unique():
    names = [row["name"] for row in GUARANTEES]
    assert len(names) == len(set(names))
