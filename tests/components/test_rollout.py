"""Rollout lifecycle through kfp.local against the stand-in: safe_rollout, set_traffic, clean-up.

Each test owns one endpoint with a working blue deployment (a joblib model served by a scoring
script) and rolls a green out over it with the example blue_green_rollout pipeline.
"""

import json
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from azure.ai.ml import MLClient
from azure.core.exceptions import ResourceNotFoundError
from kfp import dsl, local
from kfp.components import load_component_from_file

from azml_components import delete_endpoint, deploy_model, invoke_endpoint, set_traffic
from azml_components.local.kfp_backend import kfp_backend_rules
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from pipelines.blue_green_rollout import blue_green_rollout
from tests.helpers import (
    data_payload,
    diabetes_rows,
    ml_client,
    unique,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(900)
COMPILED = Path(__file__).resolve().parents[2] / "compiled/pipelines/blue_green_rollout.yaml"


@pytest.fixture(scope="module")
def client(standin) -> MLClient:
    return ml_client()


@pytest.fixture(scope="module")
def blue_model(standin, tmp_path_factory):
    model_dir, code_dir, model = write_custom_model(tmp_path_factory.mktemp("blue"), alpha=3.0)
    registered = azml_register_model(**workspace(), model_name=unique("rollout-blue"),
                                     model_path=str(model_dir))
    return {"asset_id": registered["asset_id"], "code": str(code_dir), "model": model}


def _endpoint_with_blue(prefix: str, blue_model) -> str:
    # A new endpoint of this test's own, serving blue; returns its name.
    name = unique(prefix)
    azml_deploy_model(**workspace(), endpoint_name=name, deployment_name="blue",
                      model_id=blue_model["asset_id"], timeout_seconds=300,
                      options={"code_path": blue_model["code"], "scoring_script": "score.py",
                               "conda_file": "conda.yaml"})
    return name


def _blue_answers(name: str, blue_model) -> None:
    # The endpoint, without any deployment header, is served by blue's model.
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=name,
                                  payload=data_payload(diabetes_rows()))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], blue_model["model"].predict(diabetes_rows()))


def _run_rollout(tmp_path, endpoint: str, compiled: bool = False, **arguments) -> list:
    # The pipeline function, or its compiled YAML as users upload it, under the KFP backend's
    # artifact rules; returns the tasks those checked.
    ws = workspace()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    pipeline = load_component_from_file(str(COMPILED)) if compiled else blue_green_rollout
    with kfp_backend_rules() as rules:
        pipeline(resource_group=ws["resource_group"], workspace_name=ws["workspace_name"],
                 endpoint_name=endpoint, new_deployment_name="green",
                 model_name=f"{endpoint}-model", **arguments)
    return rules.checked


def _deployments(client, endpoint: str) -> set:
    return {d.name for d in client.online_deployments.list(endpoint)}


def test_good_green_takes_all_traffic_in_steps_and_blue_is_removed(
        standin, client, blue_model, tmp_path):
    endpoint = _endpoint_with_blue("rollout-good", blue_model)
    standin.clear_requests()
    checked = _run_rollout(tmp_path, endpoint, compiled=True, traffic_steps=[10, 50, 100],
                           remove_old=True)
    assert checked == ["train-diabetes-model", "register-model", "safe-rollout-2"]
    assert client.online_endpoints.get(endpoint).traffic == {"green": 100}
    assert _deployments(client, endpoint) == {"green"}
    # Traffic moved in exactly three PUTs of the endpoint: 10, 50, 100 (green joined at 0%).
    puts = [r for r in standin.requests()
            if r["method"] == "PUT" and r["path"].lower().endswith(f"/onlineendpoints/{endpoint}")]
    assert len(puts) == 3
    report = next(tmp_path.rglob("report")).read_text()
    assert "| blue |" in report and "| green |" in report and "100%" in report
    assert "traffic {'blue': 90, 'green': 10}" in report


def test_failing_green_is_rolled_back_and_blue_keeps_all_traffic(
        standin, client, blue_model, tmp_path):
    endpoint = _endpoint_with_blue("rollout-bad", blue_model)
    standin.scoring_fault(endpoint=endpoint, deployment="green", status=500, count=1000)
    # The rollout task is the one that failed (training and registering went through).
    with pytest.raises(RuntimeError, match=r"FAILURE.*Inner task failed: .*'safe-rollout-2'"):
        _run_rollout(tmp_path, endpoint)
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}
    assert _deployments(client, endpoint) == {"blue"}
    _blue_answers(endpoint, blue_model)


def test_mirror_traffic_reaches_the_mirror_deployment(standin, client, blue_model, tmp_path):
    endpoint = _endpoint_with_blue("rollout-mirror", blue_model)
    _run_rollout(tmp_path, endpoint, mirror_percent=50, remove_old=False)
    mirrored = standin.mirror_log(endpoint)
    assert any(entry["deployment"] == "green" for entry in mirrored), mirrored
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 0, "green": 100}
    assert client.online_endpoints.get(endpoint).mirror_traffic in ({}, None)


def _rollout_process():
    # The safe_rollout task's Python process (kfp's shells exec into it, see _component.py);
    # only among this test's own descendants, never another run's on the same machine.
    for process in psutil.Process().children(recursive=True):
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if "--function_to_execute" in cmdline and cmdline[
                cmdline.index("--function_to_execute") + 1] == "safe_rollout":
            return process
    return None


@pytest.mark.parametrize(("prefix", "slow_part", "traffic_when_signalled"), [
    # The first traffic step stays in progress for a minute: traffic has moved to 90/10.
    ("rollout-cancel", "", {"blue": 90, "green": 10}),
    # The new deployment is still provisioning: nothing has moved yet.
    ("rollout-cancel-early", "/deployments/green", {"blue": 100}),
])
def test_sigterm_mid_rollout_restores_traffic(standin, client, blue_model, tmp_path, prefix,
                                              slow_part, traffic_when_signalled):
    endpoint = _endpoint_with_blue(prefix, blue_model)
    slow_path = f"/onlineendpoints/{endpoint}{slow_part}"
    # The first PUT of `slow_path` from here on stays in progress for a minute, so the signal
    # arrives while the rollout waits on Azure.
    standin.lro_fault(path_regex=slow_path + "$", outcome="Slow", delay_seconds=60, count=1)
    standin.clear_requests()
    outcome = {}

    def run():
        try:
            _run_rollout(tmp_path, endpoint)
        except BaseException as error:  # noqa: BLE001 - inspected below
            outcome["error"] = error

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 600
    stepping = False
    while not stepping and time.monotonic() < deadline and runner.is_alive():
        stepping = any(r["method"] == "PUT" and r["path"].lower().endswith(slow_path)
                       for r in standin.requests())
        time.sleep(0.2)
    assert stepping, f"the rollout never sent PUT {slow_path}"
    live = {k: v for k, v in client.online_endpoints.get(endpoint).traffic.items() if v}
    assert live == traffic_when_signalled
    victim = _rollout_process()
    assert victim is not None
    victim.send_signal(signal.SIGTERM)
    runner.join(600)
    assert isinstance(outcome.get("error"), RuntimeError), "a cancelled rollout fails the run"
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}
    assert _deployments(client, endpoint) == {"blue"}
    _blue_answers(endpoint, blue_model)


def test_set_traffic_component_and_cleanup_in_exit_handler_after_failure(
        standin, client, blue_model, tmp_path):
    ws = workspace()
    endpoint = unique("rollout-cleanup")

    # The imported code lives under the pipeline root: the KFP launcher refuses an input
    # artifact anywhere else but in a storage bucket (kfp_backend_rules checks it).
    code_dir = shutil.copytree(blue_model["code"], tmp_path / "imported" / "code")

    @dsl.pipeline(name="cleanup-after-failure")
    def cleanup_after_failure(model_id: str, code_dir: str):
        cleanup = delete_endpoint(endpoint_name=endpoint, **ws)
        with dsl.ExitHandler(cleanup):
            # Deployed at 0%: only set_traffic gives blue the endpoint's traffic.
            deployed = deploy_model(model_id=model_id, endpoint_name=endpoint,
                                    deployment_name="blue", traffic_percent=0, code=dsl.importer(
                                        artifact_uri=code_dir, artifact_class=dsl.Artifact
                                    ).output, conda_file="conda.yaml", **ws)
            moved = set_traffic(endpoint_name=endpoint, traffic={"blue": 100}, **ws)
            moved.after(deployed)
            # Asks for 2 predictions where the payload has 1 row: fails on purpose.
            failing = invoke_endpoint(endpoint_name=endpoint,
                                      payload=json.dumps({"data": [[0.0] * 10]}),
                                      json_schema=json.dumps({"minItems": 2}), **ws)
            failing.after(moved)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    # Only the smoke test failed: deploy_model and set_traffic went through.
    with pytest.raises(RuntimeError, match=r"FAILURE.*Inner task failed: .*'invoke-endpoint'"), \
            kfp_backend_rules():
        cleanup_after_failure(model_id=blue_model["asset_id"], code_dir=str(code_dir))
    # The endpoint's traffic reached blue (set_traffic wrote it): the answer came back 200 and
    # failed only the schema check.
    (response,) = [p for p in tmp_path.rglob("response") if p.is_file()]
    answer = json.loads(response.read_text())
    assert answer["status"] == 200
    assert [p.split(":")[0] for p in answer["problems"]] == ["json_schema"]
    # The exit handler deleted the endpoint after the failure.
    with pytest.raises(ResourceNotFoundError):
        client.online_endpoints.get(endpoint)
