"""Rollout lifecycle through kfp.local against the stand-in: safe_rollout, set_traffic, clean-up.

Each test owns one endpoint with a working blue deployment (a joblib model served by a scoring
script) and rolls a green out over it with the example blue_green_rollout pipeline. Tests marked
KINDS run on both endpoint kinds: managed, and Kubernetes on the workspace's attached compute
(the scoring environment is shared, so a Kubernetes deployment costs what a managed one does).
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

from azml_components import (
    delete_endpoint,
    deploy_model,
    invoke_endpoint,
    recover_rollout,
    set_traffic,
)
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.rollout import azml_safe_rollout
from azml_components.runtime.rollout_state import azml_read_rollout
from azml_components.testing.kfp_backend import kfp_backend_rules
from azml_components.testing.preinstalled import preinstalled
from pipelines.blue_green_rollout import blue_green_rollout
from tests.crash import kill_rollout_mid_shift, kill_rollout_while_deploying
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
# compute "" is a managed online endpoint; "aks-cluster" the stand-in's attached Kubernetes compute.
KINDS = pytest.mark.parametrize("compute", ["", "aks-cluster"], ids=["managed", "kubernetes"])


@pytest.fixture(scope="module")
def client(standin) -> MLClient:
    return ml_client()


@pytest.fixture(scope="module")
def blue_model(standin, tmp_path_factory):
    model_dir, code_dir, model = write_custom_model(tmp_path_factory.mktemp("blue"), alpha=3.0)
    registered = azml_register_model(**workspace(), model_name=unique("rollout-blue"),
                                     model_path=str(model_dir))
    return {"asset_id": registered["asset_id"], "code": str(code_dir), "model": model}


def _endpoint_with_blue(prefix: str, blue_model, compute: str = "") -> str:
    # A new endpoint of this test's own (managed, or Kubernetes on `compute`), serving blue;
    # returns its name.
    name = unique(prefix)
    azml_deploy_model(**workspace(), endpoint_name=name, deployment_name="blue",
                      model_id=blue_model["asset_id"], timeout_seconds=300,
                      options={"code_path": blue_model["code"], "scoring_script": "score.py",
                               "conda_file": "conda.yaml", "compute": compute})
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
    # The pipeline function runs as from the prebuilt image (its pins are installed here; the
    # compiled YAML's rows keep kfp's install step): azml_components/testing/preinstalled.py.
    pipeline = load_component_from_file(str(COMPILED)) if compiled else preinstalled(
        blue_green_rollout)
    with kfp_backend_rules() as rules:
        pipeline(resource_group=ws["resource_group"], workspace_name=ws["workspace_name"],
                 endpoint_name=endpoint, new_deployment_name="green",
                 model_name=f"{endpoint}-model", **arguments)
    return rules.checked


def _deployments(client, endpoint: str) -> set:
    return {d.name for d in client.online_deployments.list(endpoint)}


@KINDS
def test_good_green_takes_all_traffic_in_steps_and_blue_is_removed(
        standin, client, blue_model, tmp_path, compute):
    endpoint = _endpoint_with_blue("rollout-good", blue_model, compute)
    standin.clear_requests()
    checked = _run_rollout(tmp_path, endpoint, compiled=True, traffic_steps=[10, 50, 100],
                           remove_old=True, compute=compute)
    # The exit task ran last, after the rollout.
    assert checked == ["train-diabetes-model", "register-model", "safe-rollout-2",
                       "recover-rollout"]
    live = client.online_endpoints.get(endpoint)
    assert live.traffic == {"green": 100}
    assert azml_read_rollout(endpoint, live.tags) is None
    assert live.tags == {"created_by": "azml-components"}
    assert _deployments(client, endpoint) == {"green"}
    # Five PUTs of the endpoint: the rollout's record, traffic 10, 50, 100 (green joined at 0%;
    # each move renews the record in the same PUT), the record removed; the exit task found
    # nothing to undo and wrote nothing: the only other writes are green's deployment and
    # blue's removal.
    writes = [(r["method"], r["path"].lower().rsplit("/", 2)[-2:]) for r in standin.requests()
              if r["method"] in ("PUT", "DELETE") and "/onlineendpoints/" in r["path"].lower()]
    assert writes == [("PUT", ["onlineendpoints", endpoint])] + [
        ("PUT", ["deployments", "green"])] + [("PUT", ["onlineendpoints", endpoint])] * 4 + [
        ("DELETE", ["deployments", "blue"])]
    report = next(tmp_path.rglob("report")).read_text()
    assert "| blue |" in report and "| green |" in report and "100%" in report
    assert "traffic {'blue': 90, 'green': 10}" in report
    _assert_kind(client, endpoint, "green", compute, report)


def _assert_kind(client, endpoint: str, deployment: str, compute: str, report: str) -> None:
    # The endpoint is of the asked kind, its deployment on the cluster's default instance type
    # (Kubernetes) or the default VM size (managed), and the report says which.
    from azure.ai.ml.entities import KubernetesOnlineDeployment, KubernetesOnlineEndpoint

    live = client.online_endpoints.get(endpoint)
    served = client.online_deployments.get(deployment, endpoint)
    assert isinstance(live, KubernetesOnlineEndpoint) == bool(compute)
    assert isinstance(served, KubernetesOnlineDeployment) == bool(compute)
    if compute:
        assert live.compute.endswith(f"/computes/{compute}")
        assert served.instance_type == "defaultinstancetype"
        assert f"- **kind**: Kubernetes online endpoint on compute {compute}\n" in report
    else:
        assert served.instance_type == "Standard_DS3_v2"
        assert "- **kind**: managed online endpoint\n" in report


def test_failing_green_is_rolled_back_and_blue_keeps_all_traffic(
        standin, client, blue_model, tmp_path, compute=""):
    endpoint = _endpoint_with_blue("rollout-bad", blue_model, compute)
    standin.scoring_fault(endpoint=endpoint, deployment="green", status=500, count=1000)
    # The rollout task is the one that failed (training and registering went through).
    with pytest.raises(RuntimeError, match=r"FAILURE.*Inner task failed: .*'safe-rollout-2'"):
        _run_rollout(tmp_path, endpoint, compute=compute)
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


def _puts(standin, path: str) -> int:
    return sum(r["method"] == "PUT" and r["path"].lower().endswith(path.lower())
               for r in standin.requests())


@pytest.mark.parametrize(("prefix", "slow_part", "traffic_when_signalled"), [
    # The first traffic step stays in progress: traffic has moved to 90/10.
    ("rollout-cancel", "", {"blue": 90, "green": 10}),
    # The new deployment is still provisioning: nothing has moved yet.
    ("rollout-cancel-early", "/deployments/green", {"blue": 100}),
])
def test_sigterm_mid_rollout_restores_traffic(standin, client, blue_model, tmp_path, prefix,
                                              slow_part, traffic_when_signalled):
    endpoint = _endpoint_with_blue(prefix, blue_model)
    slow_path = f"/onlineendpoints/{endpoint}{slow_part}"
    standin.clear_requests()
    outcome = {}

    def run():
        try:
            _run_rollout(tmp_path, endpoint)
        except BaseException as error:  # noqa: BLE001 - inspected below
            outcome["error"] = error

    def wait_for(condition, what: str) -> None:
        deadline = time.monotonic() + 600
        while not condition() and time.monotonic() < deadline and runner.is_alive():
            time.sleep(0.2)
        assert condition(), f"the rollout never sent {what}"

    # The next PUT of `slow_path` is held in progress until the signal was sent, so the signal
    # arrives while the rollout waits on Azure. The endpoint's first PUT only records the
    # rollout: the fault is set for the endpoint once the new deployment was sent, so it hits
    # the first step.
    slow_endpoint = slow_path.endswith(f"/onlineendpoints/{endpoint}")
    if not slow_endpoint:
        standin.lro_fault(path_regex=slow_path + "$", outcome="Hold", count=1)
    runner = threading.Thread(target=run)
    runner.start()
    if slow_endpoint:
        wait_for(lambda: _puts(standin, slow_path + "/deployments/green"), "PUT of green")
        sent = _puts(standin, slow_path)
        standin.lro_fault(path_regex=slow_path + "$", outcome="Hold", count=1)
        wait_for(lambda: _puts(standin, slow_path) > sent, f"PUT {slow_path}")
    else:
        wait_for(lambda: _puts(standin, slow_path), f"PUT {slow_path}")
    live = {k: v for k, v in client.online_endpoints.get(endpoint).traffic.items() if v}
    assert live == traffic_when_signalled
    victim = _rollout_process()
    assert victim is not None
    victim.send_signal(signal.SIGTERM)
    standin.release_lro_holds()  # Azure finishes the operation; the rollback can write then
    runner.join(600)
    assert isinstance(outcome.get("error"), RuntimeError), "a cancelled rollout fails the run"
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}
    assert _deployments(client, endpoint) == {"blue"}
    _blue_answers(endpoint, blue_model)


def _recover(tmp_path, endpoint: str, run_id: str) -> dict:
    # The exit task as the example pipeline runs it, through kfp.local.
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    task = recover_rollout(endpoint_name=endpoint, pipeline_run_id=run_id, **workspace())
    return task.outputs


def _nonzero(weights) -> dict:
    # Azure's view of a traffic map: a 0% entry and none are the same.
    return {k: v for k, v in (weights or {}).items() if v}


def _writes(standin) -> list:
    return [(r["method"], r["path"]) for r in standin.requests()
            if r["method"] in ("PUT", "POST", "PATCH", "DELETE")
            and r["path"].startswith("/subscriptions/")]


def test_sigkill_mid_shift_then_the_exit_task_restores_exactly(
        standin, client, blue_model, tmp_path):
    # blue takes all live traffic and shadow gets 20% mirrored; the rollout of green mirrors
    # 30% to green instead (one mirror target at a time) and is SIGKILLed right there.
    name = _endpoint_with_blue("crash-exit", blue_model)
    azml_deploy_model(**workspace(), endpoint_name=name, deployment_name="shadow",
                      model_id=blue_model["asset_id"], traffic_percent=0, timeout_seconds=300,
                      options={"code_path": blue_model["code"], "scoring_script": "score.py",
                               "conda_file": "conda.yaml"})
    endpoint = client.online_endpoints.get(name)
    endpoint.mirror_traffic = {"shadow": 20}
    client.online_endpoints.begin_create_or_update(endpoint).result()
    before = client.online_endpoints.get(name)
    rollout = {**workspace(), "endpoint_name": name, "deployment_name": "green",
               "model_id": blue_model["asset_id"], "payload": data_payload(diabetes_rows()),
               "options": {"code_path": blue_model["code"], "scoring_script": "score.py",
                           "conda_file": "conda.yaml"}, "mirror_percent": 30,
               "timeout_seconds": 300}
    kill_rollout_mid_shift(standin, {**rollout, "pipeline_run_id": "run-crashed"},
                           tmp_path / "killed.log")
    crashed = client.online_endpoints.get(name)
    assert (_nonzero(crashed.traffic), crashed.mirror_traffic) == ({"blue": 100}, {"green": 30})
    assert azml_read_rollout(name, crashed.tags)["owner"] == "run-crashed"
    assert _deployments(client, name) == {"blue", "shadow", "green"}

    # Another run's rollout is refused before any write, naming the owner.
    standin.clear_requests()
    with pytest.raises(RuntimeError, match="unfinished rollout of 'green' owned by run "
                                           "'run-crashed'"):
        azml_safe_rollout(**{**rollout, "deployment_name": "teal"}, pipeline_run_id="run-other")
    assert _writes(standin) == []

    # The crashed run's exit task undoes it: traffic and mirror exactly as before.
    outputs = _recover(tmp_path, name, "run-crashed")
    assert outputs["undone"] is True
    assert outputs["actions"][0] == ("restored live traffic {'blue': 100} and mirror traffic "
                                     "{'shadow': 20}")
    after = client.online_endpoints.get(name)
    assert (_nonzero(after.traffic), after.mirror_traffic) == (
        _nonzero(before.traffic), before.mirror_traffic) == ({"blue": 100}, {"shadow": 20})
    assert after.tags == before.tags == {"created_by": "azml-components"}
    assert _deployments(client, name) == {"blue", "shadow"}
    _blue_answers(name, blue_model)

    # Nothing left: the clean-up again is a no-op.
    standin.clear_requests()
    outputs = _recover(tmp_path, name, "run-crashed")
    assert (outputs["undone"], outputs["actions"]) == (False, [])
    assert _writes(standin) == []


def test_sigkill_while_deploying_to_a_new_endpoint_then_the_exit_task_removes_it(
        standin, client, blue_model, tmp_path):
    # Killed before any traffic moved, on an endpoint the rollout created: the record went in
    # with the endpoint, so the exit task deletes the half-made deployment and the endpoint.
    name = unique("crash-new")
    rollout = {**workspace(), "endpoint_name": name, "deployment_name": "green",
               "model_id": blue_model["asset_id"], "payload": data_payload(diabetes_rows()),
               "options": {"code_path": blue_model["code"], "scoring_script": "score.py",
                           "conda_file": "conda.yaml"}, "timeout_seconds": 300,
               "pipeline_run_id": "run-new"}
    kill_rollout_while_deploying(standin, rollout, tmp_path / "killed.log")
    record = azml_read_rollout(name, client.online_endpoints.get(name).tags)
    assert (record["owner"], record["created_endpoint"], record["traffic"]) == (
        "run-new", True, {})
    assert _deployments(client, name) == {"green"}
    outputs = _recover(tmp_path, name, "run-new")
    assert outputs["actions"] == ["deleted deployment green",
                                  f"deleted endpoint {name}, which the rollout created"]
    assert name not in {e.name for e in client.online_endpoints.list()}


@KINDS
def test_set_traffic_component_and_cleanup_in_exit_handler_after_failure(
        standin, client, blue_model, tmp_path, compute):
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
                                    ).output, conda_file="conda.yaml", compute=compute, **ws)
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
        preinstalled(cleanup_after_failure)(model_id=blue_model["asset_id"],
                                            code_dir=str(code_dir))
    # The endpoint's traffic reached blue (set_traffic wrote it): the answer came back 200 and
    # failed only the schema check.
    (response,) = [p for p in tmp_path.rglob("response") if p.is_file()]
    answer = json.loads(response.read_text())
    assert answer["status"] == 200
    assert [p.split(":")[0] for p in answer["problems"]] == ["json_schema"]
    # The exit handler deleted the endpoint after the failure.
    with pytest.raises(ResourceNotFoundError):
        client.online_endpoints.get(endpoint)


def test_compiled_rollout_pipeline_has_the_exit_task_for_its_own_run():
    # The exit task undoes what this run left: it runs when the handler's tasks are done
    # whatever their state, and it and both safe_rollout tasks get the same run id (a task
    # argument, so the KFP driver fills it in).
    import yaml

    spec = next(yaml.safe_load_all(COMPILED.read_text()))
    root = spec["root"]["dag"]["tasks"]
    exit_task = root["recover-rollout"]
    assert exit_task["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert exit_task["dependentTasks"] == ["exit-handler-1"]
    def tasks_under(component: str) -> list:
        found = []
        for task in spec["components"][component].get("dag", {}).get("tasks", {}).values():
            found += [task, *tasks_under(task["componentRef"]["name"])]
        return found

    rollouts = [task for task in tasks_under(root["exit-handler-1"]["componentRef"]["name"])
                if task["componentRef"]["name"].startswith("comp-safe-rollout")]
    assert len(rollouts) == 2  # mlflow and custom branches
    run_id = {"runtimeValue": {"constant": "{{$.pipeline_job_uuid}}"}}
    for task in [exit_task, *rollouts]:
        assert task["inputs"]["parameters"]["pipeline_run_id"] == run_id
