"""docs/try-on-your-cluster.md names the compiled pipelines' run parameters as they are."""

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "try-on-your-cluster.md"


def _inputs(compiled: str) -> set:
    spec = next(yaml.safe_load_all((ROOT / compiled).read_text()))
    return set(spec["root"]["inputDefinitions"]["parameters"])


def _tables(text: str) -> dict:
    # {compiled file: the parameter names of the table under its "Run parameters" heading}
    tables = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = section.partition("\n")
        named = re.fullmatch(r"Run parameters: (compiled/pipelines/\S+\.yaml)", heading.strip())
        if named:
            tables[named[1]] = {m for m in re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.M)}
    return tables


def test_page_tables_are_the_compiled_pipelines_inputs():
    tables = _tables(PAGE.read_text())
    compiled = {str(p.relative_to(ROOT)) for p in (ROOT / "compiled" / "pipelines").glob("*.yaml")}
    assert set(tables) == compiled  # every compiled pipeline has its table
    for path, names in tables.items():
        assert names == _inputs(path), path


def test_page_python_example_passes_only_existing_inputs():
    text = PAGE.read_text()
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", text, flags=re.S)
               if "create_run_from_pipeline_package" in block]
    call = next(node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "create_run_from_pipeline_package")
    package = ast.literal_eval(call.args[0])
    arguments = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "arguments"))
    assert set(arguments) <= _inputs(package)
    assert {"resource_group", "workspace_name"} <= set(arguments)  # the required ones


def test_page_secret_has_the_four_credential_keys():
    from azml_components import pins

    command = re.search(r"kubectl .*?create secret generic azcreds(.*?)```", PAGE.read_text(),
                        flags=re.S)
    assert command
    assert set(re.findall(r"--from-literal=(\w+)=", command[1])) == set(
        pins.CREDENTIAL_ENV_VARS)
