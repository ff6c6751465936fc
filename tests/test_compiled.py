"""compiled/ is generated, current, strictly valid, and carries credentials only by secret."""

import ast
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp import compiler
from kfp.components import load_component_from_file
from kfp.kubernetes import kubernetes_executor_config_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from azml_components import components, pins
from azml_components.testing.pipeline_checks import compiled_pipeline_problems
from tools import compile_all

ROOT = Path(__file__).resolve().parent.parent
COMPILED = sorted((ROOT / "compiled").rglob("*.yaml"))


def _documents(path: Path) -> list[dict]:
    return list(yaml.safe_load_all(path.read_text()))


def test_compiled_matches_source():
    assert compile_all.drift(ROOT / "compiled") == []


def test_settings_regions_match_the_declaration():
    # azml_components/settings.py declares every shared input once; the signatures, docstring
    # entries, calls and the options record that follow from it are generated (nox -s compile).
    from tools import generate_settings

    assert generate_settings.drift() == []


def test_compiling_twice_gives_identical_bytes(tmp_path):
    first = compile_all.compile_all(tmp_path / "a")
    second = compile_all.compile_all(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert len(first) >= len(components())


@pytest.mark.parametrize("path", COMPILED, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiled_file_is_strictly_valid(path):
    docs = _documents(path)
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(docs[0], spec)  # unknown fields raise
    deployment = pipeline_spec_pb2.PipelineDeploymentConfig()
    json_format.ParseDict(docs[0]["deploymentSpec"], deployment)
    for executor in deployment.executors.values():
        assert executor.container.image == pins.BASE_IMAGE
    if len(docs) > 1:
        platform = pipeline_spec_pb2.PlatformSpec()
        json_format.ParseDict(docs[1], platform)
        for config in docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
            json_format.ParseDict(config, kubernetes_executor_config_pb2.KubernetesExecutorConfig())


def test_credentials_reach_a_task_only_through_the_secret(tmp_path, monkeypatch):
    # Compiled while the credential variables hold known values: none of them may end up in
    # any file, no executor sets an AZ_* variable itself, and the only secret wired is azcreds
    # (or one secret per environment, SECRETS),
    # mapping those four keys to variables of the same name.
    canaries = {name: f"canary-{name.lower()}-4d1e" for name in pins.CREDENTIAL_ENV_VARS}
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    written = compile_all.compile_all(tmp_path)
    assert {p.name for p in written} >= {f"{n}.yaml" for n in components()}
    wired = 0
    for path in written:
        text = path.read_text()
        assert not [value for value in canaries.values() if value in text], path.name
        docs = list(yaml.safe_load_all(text))
        for executor in docs[0]["deploymentSpec"]["executors"].values():
            env = executor.get("container", {}).get("env", [])
            assert not [e for e in env if e.get("name", "").startswith("AZ_")], path.name
        if len(docs) < 2:
            continue
        for config in docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
            for secret in config.get("secretAsEnv", []):
                wired += 1
                assert secret["secretName"] in SECRETS.get(path.name, ("azcreds",)), path.name
                assert [(m["secretKey"], m["envVar"]) for m in secret["keyToEnv"]] == [
                    (k, k) for k in pins.CREDENTIAL_ENV_VARS], path.name
            assert not config.get("configMapAsEnv"), path.name
    assert wired >= 2, "the example pipelines wire the secret"


# Pipelines with one secret per environment (docs/registries.md); every other one uses azcreds.
SECRETS = {"promote_to_production.yaml": ("azcreds-dev", "azcreds-prod")}


def _azure_tasks(doc: dict) -> list[str]:
    # Tasks whose container installs the Azure SDK talk to Azure.
    executors = doc["deploymentSpec"]["executors"]
    return [
        task
        for component in [doc["root"], *doc["components"].values()]
        for task, spec in component.get("dag", {}).get("tasks", {}).items()
        if any(pins.AZURE_AI_ML in part for part in executors.get(
            doc["components"][spec["componentRef"]["name"]].get("executorLabel", ""), {}).get(
            "container", {}).get("command", []))
    ]


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "compiled" / "pipelines").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_every_azure_task_in_a_pipeline_gets_azcreds_no_cache_and_real_placeholders(path):
    # The KFP backend's rules (azml_components/testing/pipeline_checks.py cites them): the four
    # azcreds keys with no field a supported backend refuses, enableCache off for every Azure
    # task, and {{$.pipeline_job_*}} passed as task arguments.
    docs = _documents(path)
    assert len(_azure_tasks(docs[0])) >= 2, "a pipeline here always has Azure-facing tasks"
    assert compiled_pipeline_problems(docs, SECRETS.get(path.name, "azcreds")) == []


@pytest.mark.parametrize("name", sorted(components()))
def test_component_loads_back_with_descriptions(name, tmp_path):
    original = components()[name]
    loaded = load_component_from_file(str(ROOT / "compiled" / "components" / f"{name}.yaml"))
    # kfp re-reads the description from the embedded docstring (which also holds Args:); the
    # summary and body must come through word for word.
    words = original.description.split()
    assert loaded.description.split()[: len(words)] == words
    assert loaded.description.splitlines()[0].endswith(".")
    # Descriptions survive a round trip through the loaded component's IR.
    compiler.Compiler().compile(loaded, str(tmp_path / "again.yaml"))
    again = _documents(tmp_path / "again.yaml")[0]["components"]
    spec = next(iter(again.values()))
    inputs = {**spec["inputDefinitions"].get("parameters", {}),
              **spec["inputDefinitions"].get("artifacts", {})}
    outputs = {**spec.get("outputDefinitions", {}).get("parameters", {}),
               **spec.get("outputDefinitions", {}).get("artifacts", {})}
    for io_name in original.component_spec.inputs:
        assert inputs[io_name].get("description"), f"input {io_name} has no description"
    for io_name in original.component_spec.outputs:
        assert outputs[io_name].get("description"), f"output {io_name} has no description"


def test_component_reference_page_matches_the_docstrings():
    from tools import reference

    text = reference.PAGE.read_text()
    assert reference.updated(text) == text, "run `nox -s compile` to refresh docs/components.md"


@pytest.mark.parametrize("name", sorted(components()))
def test_azure_components_exec_into_python_so_sigterm_reaches_them(name):
    command = "\n".join(components()[name].component_spec.implementation.container.command)
    assert '&& exec "$0" "$@"' in command
    assert "_KFP_RUNTIME=true exec python3 -m kfp.dsl.executor_main" in command


def test_every_argument_of_every_compiled_container_fits_linux_limit():
    # Linux refuses a single argument over MAX_ARG_STRLEN (131072 bytes, include/uapi/linux/
    # binfmts.h) with E2BIG before the container's shell starts; large programs go in parts.
    from azml_components._component import PROGRAM_PART_BYTES, program_parts

    for path in sorted((ROOT / "compiled").rglob("*.yaml")):
        spec = next(yaml.safe_load_all(path.read_text()))  # a pipeline's platform spec follows
        for executor in spec["deploymentSpec"]["executors"].values():
            container = executor["container"]
            for part in container.get("command", []) + container.get("args", []):
                assert len(part.encode()) < 131072, (path.name, len(part.encode()))
                if "import kfp" in part:  # kfp's loader parses each such part on its own
                    ast.parse(part)
    parts = program_parts("a = 1\n" * 40000)
    assert len(parts) > 1 and "".join(parts) == "a = 1\n" * 40000
    assert all(len(p.encode()) <= PROGRAM_PART_BYTES for p in parts)
