"""Each compiled component's Python runs on its own: every name it uses is embedded, nothing
embedded is unused, and bad input fails with the field-named ValueError (not a NameError).

The code is taken from compiled/components/*.yaml (what a cluster runs) and executed in a fresh
interpreter that never imports azml_components.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPILED = ROOT / "compiled" / "components"

# Runs in the fresh interpreter: argv[1] the component's source, argv[2] its name, argv[3] the
# calls to make as JSON [[kwargs, expected message start], ...]; prints a JSON report.
PROBE = r'''
import builtins, json, re, sys, symtable, tempfile, types

def no_network(event, args):
    # Bad input must fail before any connection; refuse every one.
    if event == "socket.connect":
        raise ConnectionRefusedError(f"the probe tried to connect to {args[1]}")

sys.addaudithook(no_network)
source, name, calls = open(sys.argv[1]).read(), sys.argv[2], json.loads(sys.argv[3])
module = types.ModuleType("ephemeral_component")
exec(compile(source, "ephemeral_component.py", "exec"), module.__dict__)
functions = {k: v for k, v in vars(module).items() if isinstance(v, types.FunctionType)
             and v.__code__.co_filename == "ephemeral_component.py"}  # not typing's

def global_names(table):
    names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    for child in table.get_children():
        names |= global_names(child)
    return names

uses = {t.get_name(): global_names(t) for t in symtable.symtable(
    source, "ephemeral_component.py", "exec").get_children() if t.get_type() == "function"}
missing = sorted(f"{f}: {n}" for f, names in uses.items() for n in names
                 if n not in module.__dict__ and not hasattr(builtins, n))
reached, pending = set(), [name]
while pending:
    for used in uses[pending.pop()] & functions.keys():
        if used not in reached:
            reached.add(used)
            pending.append(used)
outcomes = []
for kwargs, expected in calls:
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("@"):  # an output artifact
            kwargs[key] = getattr(module, value[1:])(uri=tempfile.mkdtemp())
    try:
        functions[name](**kwargs)
        outcomes.append("no error")
    except ValueError as error:
        outcomes.append("ok" if str(error).startswith(expected) else f"ValueError: {error}")
    except Exception as error:
        outcomes.append(f"{type(error).__name__}: {error}")
print(json.dumps({
    "missing": missing,
    "unused": sorted(set(functions) - reached - {name}),
    "embedded": sorted(set(functions) - {name}),
    "outcomes": outcomes,
    "imported_azml_components": any(m.startswith("azml_components") for m in sys.modules),
}))
'''

WS = {"resource_group": "rg", "workspace_name": "ws"}
OPTION_ERRORS = [
    ({"code_in_model": "../x"}, "code_in_model: '../x' must be a relative folder"),
    ({"auth_mode": "aad"}, "auth_mode: 'aad' is not one of key, aml_token"),
    ({"environment_variables": {"": "x"}}, "environment_variables: keys must be non-empty"),
    ({"instance_count": 0}, "instance_count: 0 must be at least 1"),
]
DEPLOY = {**WS, "endpoint_name": "ep-1", "deployment_name": "blue", "model_id": "azureml:m:1",
          "endpoint": "@Artifact", "report": "@Markdown"}
BATCH = {**WS, "endpoint_name": "ep-1", "deployment_name": "blue", "model_id": "azureml:m:1",
         "compute": "cpu-cluster", "endpoint": "@Artifact", "report": "@Markdown"}
SCORE = {**WS, "endpoint_name": "ep-1", "predictions": "@Dataset", "report": "@Markdown"}
DRIFT = {**WS, "metrics": "@Metrics", "report": "@HTML", "summary": "@Markdown"}
MONITOR = {**WS, "monitor_name": "mon", "baseline_data": "azureml:b:1", "endpoint_name": "ep-1",
           "deployment_name": "blue", "production_data": "azureml:p:1", "monitor": "@Artifact"}
JOB = {**WS, "command": "python train.py", "environment": "azureml:training:1",
       "job": "@Artifact", "model": "@Model", "metrics": "@Metrics", "report": "@Markdown"}
BAD_INPUT = {
    "deploy_batch_model": [
        ({**BATCH, "mini_batch_size": 0}, "mini_batch_size: 0 must be at least 1"),
        ({**BATCH, "error_threshold": -2}, "error_threshold: -2 must be at least -1"),
        ({**BATCH, "output_action": "append"}, "output_action: 'append' is not one of"),
        ({**BATCH, "endpoint_name": "ab"}, "endpoint_name: 'ab' is not a valid name")],
    "score_batch": [
        (SCORE, "dataset / input_uri: give exactly one"),
        ({**SCORE, "input_uri": "s3://b/x"}, "input_uri: 's3://b/x' must be"),
        ({**SCORE, "endpoint_name": "", "input_uri": "azureml://x"},
         "endpoint / endpoint_name: give exactly one"),
        ({**SCORE, "input_uri": "azureml://x", "pipeline_run_id": "r" * 129},
         "pipeline_run_id: ")],
    "check_drift": [
        ({**DRIFT, "numerical_metric": "l_infinity"},
         "numerical_metric: 'l_infinity' is not a numerical drift metric"),
        ({**DRIFT, "numerical_threshold": -0.1}, "numerical_threshold: -0.1 is out of range"),
        (DRIFT, "baseline: give exactly one of baseline")],
    "create_monitor": [
        ({**MONITOR, "frequency": "fortnight"}, "frequency: 'fortnight' is not one of"),
        ({**MONITOR, "monitor_name": "bad name"}, "monitor_name: 'bad name' is not a valid"),
        ({**MONITOR, "emails": ["not-an-email"]}, "emails: ['not-an-email'] must be a list")],
    "delete_deployment": [({**WS, "endpoint_name": "ab", "deployment_name": "blue"},
                           "endpoint_name: 'ab' is not a valid name")],
    "delete_endpoint": [({**WS, "endpoint_name": "ab"}, "endpoint_name: 'ab' is not a valid")],
    "deploy_model": [({**DEPLOY, "endpoint_name": "ab"}, "endpoint_name: 'ab' is not a valid")]
    + [({**DEPLOY, **bad}, message) for bad, message in OPTION_ERRORS],
    "invoke_endpoint": [({**WS, "endpoint_name": "ep-1", "payload": "{nope",
                          "response": "@Artifact"}, "payload: not valid JSON")],
    "promote_model": [({**WS, "model_id": "azureml:m:1", "registry_name": "r!",
                        "promoted_model": "@Model"}, "registry_name: 'r!' is not a registry name"),
                      ({**WS, "model_id": "m", "registry_name": "reg",
                        "promoted_model": "@Model"}, "model_id: 'm' must be")],
    "recover_batch_jobs": [({**WS, "endpoint_name": "ab"}, "endpoint_name: 'ab' is not a valid"),
                           ({**WS, "endpoint_name": "ep-1", "timeout_seconds": 0},
                            "timeout_seconds: 0 must be at least 1"),
                           ({**WS, "endpoint_name": "ep-1", "pipeline_run_id": "r" * 129},
                            "pipeline_run_id: ")],
    "recover_command_jobs": [({**WS, "timeout_seconds": 0},
                              "timeout_seconds: 0 must be at least 1"),
                             ({**WS, "pipeline_run_id": "r" * 129}, "pipeline_run_id: ")],
    "run_command_job": [({**JOB, "command": ""}, "command: must not be empty"),
                        ({**JOB, "compute": "my cluster"}, "compute: 'my cluster' is not"),
                        ({**JOB, "outputs": {"model": "mlflow"}}, "outputs.model: 'mlflow'"),
                        ({**JOB, "model_output": "weights"}, "model_output: 'weights'")],
    "recover_rollout": [({**WS, "endpoint_name": "ab"}, "endpoint_name: 'ab' is not a valid"),
                        ({**WS, "endpoint_name": "ep-1", "timeout_seconds": 0},
                         "timeout_seconds: 0 must be at least 1"),
                        ({**WS, "endpoint_name": "ep-1", "pipeline_run_id": "r" * 129},
                         "pipeline_run_id: ")],
    "register_model": [({**WS, "model_name": "bad name", "model_uri": "azureml://x",
                         "registered_model": "@Model"}, "model_name: 'bad name' is not a valid"),
                       ({**WS, "model_name": "m", "model_uri": "azureml://x", "registry_name": "r",
                         "registered_model": "@Model"}, "registry_name: 'r' is not a registry")],
    "safe_rollout": [({**DEPLOY, "payload": "[[1]]", "deployment_name": "9"},
                      "deployment_name: '9' is not a valid name")]
    + [({**DEPLOY, "payload": "[[1]]", **bad}, message) for bad, message in OPTION_ERRORS],
    "set_traffic": [({**WS, "endpoint_name": "ep-1", "traffic": {"Bad_Name": 100},
                      "endpoint": "@Artifact"}, "traffic deployment: 'Bad_Name' is not a valid")],
}


def _embedded_source(path: Path) -> str:
    # The executor's program follows the launcher in the container command, in one part or
    # several (kfp writes it to ephemeral_component.py and runs it with kfp.dsl.executor_main).
    from azml_components._component import program_of

    spec = yaml.safe_load(path.read_text())
    (executor,) = spec["deploymentSpec"]["executors"].values()
    return program_of(executor["container"]["command"])


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_compiled_component_code_is_complete_and_minimal(name, tmp_path):
    source = tmp_path / "component.py"
    source.write_text(_embedded_source(COMPILED / f"{name}.yaml"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no AZ_* credentials, no proxies
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(source), name, json.dumps(BAD_INPUT[name])],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["missing"] == []
    assert report["unused"] == []
    assert report["embedded"], "a component calls the runtime"
    assert report["outcomes"] == ["ok"] * len(BAD_INPUT[name])
    assert report["imported_azml_components"] is False


def test_delete_endpoint_no_longer_carries_the_rollout():
    source = _embedded_source(COMPILED / "delete_endpoint.yaml")
    assert "def azml_safe_rollout(" not in source and "def azml_deploy_model(" not in source
    assert "def azml_delete_endpoint(" in source


def test_every_compiled_component_is_probed():
    assert sorted(p.stem for p in COMPILED.glob("*.yaml")) == sorted(BAD_INPUT)
