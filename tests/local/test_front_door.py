"""The scoring front door honours a deployment's settings as Azure documents its status codes.

"Troubleshoot online endpoint deployment and scoring" (learn.microsoft.com), HTTP status codes
for managed online endpoints: 408 past request_timeout_ms, 424 with the model's status in
ms-azureml-model-error-statuscode for a non-200 answer, 429 beyond 2 x
max_concurrent_requests_per_instance x instance_count requests in flight; and ERROR:
ResourceNotReady when a readiness probe fails beyond its failure threshold.

Deployments are made through the real SDK, requests sent with `requests` to the scoring URI and
the endpoint's key. The scoring script holds a request until the test creates its release file
and writes a marker (with its process id) when a request or init() reaches it: the tests act on
those files, never on elapsed time.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from azml_local.fixture import LocalAzureML
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
    ProbeSettings,
)
from azure.core.exceptions import HttpResponseError

from azml_components.runtime.invoke import azml_invoke_endpoint
from tests.helpers import CONDA_YAML, unique, workspace

pytestmark = pytest.mark.timeout(900)

IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
SCORE_PY = '''
import json
import os
import time

from azureml_inference_server_http.api.aml_response import AMLResponse

HERE = os.environ["FRONT_DOOR_DIR"]


def _hold(name):
    open(os.path.join(HERE, f"arrived-{name}-{os.getpid()}"), "w").close()
    while not os.path.exists(os.path.join(HERE, f"release-{name}")):
        time.sleep(0.05)


def init():
    if os.environ.get("HOLD_INIT"):  # the readiness probe's route answers after init()
        _hold("init-" + os.environ["HOLD_INIT"])


def run(raw_data):
    request = json.loads(raw_data)
    if "status" in request:
        return AMLResponse({"asked": request["status"]}, request["status"], json_str=True)
    if request.get("raise"):
        raise RuntimeError("scoring exploded on purpose")
    if request.get("hold"):
        _hold(request["hold"])
    return {"pid": os.getpid()}
'''


@pytest.fixture(scope="module")
def door(ml_client: MLClient, standin: LocalAzureML, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("front_door")
    (root / "model").mkdir()
    (root / "model" / "weights.txt").write_text("unused")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE_PY)
    (root / "conda.yaml").write_text(CONDA_YAML)  # the scoring environment other tests build
    files = root / "files"
    files.mkdir()
    model = ml_client.models.create_or_update(Model(name=unique("fd"), path=root / "model"))
    endpoint = ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=unique("ep-fd"), auth_mode="key")).result()
    common = {
        "endpoint_name": endpoint.name,
        "model": model,
        "code_configuration": CodeConfiguration(code=str(root / "code"),
                                                scoring_script="score.py"),
        "environment": Environment(conda_file=str(root / "conda.yaml"), image=IMAGE),
        "instance_type": "Standard_DS3_v2",
    }

    def deployment(name: str, **settings) -> ManagedOnlineDeployment:
        env = {"FRONT_DOOR_DIR": str(files), **settings.pop("env", {})}
        return ManagedOnlineDeployment(name=name, environment_variables=env,
                                       **common, **settings)

    # `slow`: one worker, a 1 s request timeout. `wide`: 2 instances of 2 workers each
    # (WORKER_COUNT, as Azure's 429 row asks), one request per instance, so 4 in flight at most.
    pollers = [ml_client.online_deployments.begin_create_or_update(d) for d in (
        deployment("slow", instance_count=1, request_settings=OnlineRequestSettings(
            request_timeout_ms=1000, max_concurrent_requests_per_instance=1)),
        deployment("wide", instance_count=2, env={"WORKER_COUNT": "2"},
                   request_settings=OnlineRequestSettings(
                       request_timeout_ms=90000, max_concurrent_requests_per_instance=1)),
    )]
    for poller in pollers:
        assert poller.result().provisioning_state == "Succeeded"
    keys = ml_client.online_endpoints.get_keys(endpoint.name)
    session = requests.Session()
    session.verify = standin.env["REQUESTS_CA_BUNDLE"]
    yield {"endpoint": endpoint.name, "uri": endpoint.scoring_uri, "key": keys.primary_key,
           "files": files, "session": session, "deployment": deployment}
    for arrived in files.glob("arrived-*"):  # nothing stays held after the module
        (files / ("release-" + arrived.name[len("arrived-"):].rsplit("-", 1)[0])).touch()
    session.close()


def _score(door: dict, deployment: str, request: dict, timeout: float = 300) -> requests.Response:
    return door["session"].post(door["uri"], data=json.dumps(request), timeout=timeout, headers={
        "Authorization": f"Bearer {door['key']}", "Content-Type": "application/json",
        "azureml-model-deployment": deployment})


def _arrived(door: dict, name: str) -> set[str]:
    """Process ids of the workers holding a request (or an init) named `name`."""
    return {p.name.rsplit("-", 1)[1] for p in door["files"].glob(f"arrived-{name}-*")}


def _wait_for(what: str, check) -> None:
    # Waits on observed state; the limit only keeps a broken run from hanging.
    deadline = time.monotonic() + 240
    while not check():
        assert time.monotonic() < deadline, f"never observed: {what}"
        time.sleep(0.1)


def test_a_request_past_request_timeout_ms_gets_408(door: dict) -> None:
    # The model holds the request past the deployment's 1 s timeout: Azure answers 408 (the
    # client's own 120 s only ends a run where no 408 ever comes).
    timed_out = _score(door, "slow", {"hold": "t408"}, timeout=120)
    assert timed_out.status_code == 408, timed_out.text
    assert _arrived(door, "t408"), "the model never received the request"
    assert timed_out.headers["azureml-model-deployment"] == "slow"
    (door["files"] / "release-t408").touch()
    answered = _score(door, "slow", {})
    assert answered.status_code == 200, answered.text


def test_a_non_200_from_the_model_is_424_with_the_models_status(door: dict) -> None:
    failed = _score(door, "slow", {"raise": True})
    assert failed.status_code == 424
    assert failed.headers["ms-azureml-model-error-statuscode"] == "500"
    assert failed.headers["ms-azureml-model-error-reason"] == "model_error"
    assert "unexpected error occurred in scoring script" in failed.text  # the model's body
    teapot = _score(door, "slow", {"status": 418})
    assert (teapot.status_code, teapot.headers["ms-azureml-model-error-statuscode"]) == (
        424, "418")
    assert teapot.json() == {"asked": 418}
    fine = _score(door, "slow", {})
    assert fine.status_code == 200 and "ms-azureml-model-error-statuscode" not in fine.headers


def test_invoke_endpoint_reports_the_models_own_status(door: dict) -> None:
    # The components read the model's status from the 424's header (runtime/invoke.py).
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=door["endpoint"],
                                  deployment_name="slow", payload=json.dumps({"status": 418}),
                                  expected_status=418, expect_prediction_per_row=False)
    assert answer["status"] == 418 and answer["problems"] == [], answer


def _fill(door: dict, pool: ThreadPoolExecutor, deployment: str, tag: str, count: int) -> list:
    """`count` requests held by the model, each in its own worker; their futures."""
    futures = [pool.submit(_score, door, deployment, {"hold": tag}) for _ in range(count)]
    _wait_for(f"{count} workers holding {tag}", lambda: len(_arrived(door, tag)) == count)
    return futures


def test_requests_beyond_twice_the_concurrency_get_429_and_scale_with_instances(
        ml_client: MLClient, door: dict) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        # 2 instances x 2 workers: 4 requests held by 4 distinct scoring processes, and
        # 2 x 1 x 2 = 4 is all Azure takes at once.
        held = _fill(door, pool, "wide", "two", 4)
        rejected = _score(door, "wide", {})
        assert rejected.status_code == 429, rejected.text
        assert rejected.headers["ms-azureml-model-error-reason"] == "too_many_pending_request"
        (door["files"] / "release-two").touch()
        assert [f.result().status_code for f in held] == [200] * 4
        assert _score(door, "wide", {}).status_code == 200

        # One instance: 2 workers, 2 x 1 x 1 = 2 in flight at most.
        wide = ml_client.online_deployments.get("wide", door["endpoint"])
        wide.instance_count = 1
        ml_client.online_deployments.begin_create_or_update(wide).result()
        held = _fill(door, pool, "wide", "one", 2)
        assert _score(door, "wide", {}).status_code == 429
        (door["files"] / "release-one").touch()
        assert [f.result().status_code for f in held] == [200] * 2


def test_a_readiness_probe_that_never_succeeds_fails_provisioning(
        ml_client: MLClient, door: dict) -> None:
    # init() never finishes, so the server's health route never answers: after
    # failure_threshold probes the deployment fails as Azure's does.
    unready = door["deployment"](
        "unready", instance_count=1, env={"HOLD_INIT": "never"},
        readiness_probe=ProbeSettings(initial_delay=1, period=1, timeout=1, failure_threshold=2))
    with pytest.raises(HttpResponseError) as info:
        # The bound only ends the wait for a deployment that would never fail (the probe's
        # give-up missing): it returns without raising, which fails the test.
        ml_client.online_deployments.begin_create_or_update(unready).result(timeout=300)
    assert info.value.error.code == "ResourceNotReady", info.value
    assert "Readiness probe failed" in str(info.value), info.value
    assert ml_client.online_deployments.get("unready", door["endpoint"]).provisioning_state \
        == "Failed"
    ml_client.online_deployments.begin_delete("unready", endpoint_name=door["endpoint"]).result()


def test_a_slow_init_within_the_probes_allowance_deploys(ml_client: MLClient, door: dict) -> None:
    # Azure's default probes (10 s initial delay, 30 failures 10 s apart) wait for an init()
    # that finishes once the test has seen it start.
    late = door["deployment"]("late", instance_count=1, env={"HOLD_INIT": "late"})
    poller = ml_client.online_deployments.begin_create_or_update(late)
    _wait_for("init() of late", lambda: _arrived(door, "init-late"))
    assert ml_client.online_deployments.get("late", door["endpoint"]).provisioning_state \
        == "Creating"
    (door["files"] / "release-init-late").touch()
    assert poller.result().provisioning_state == "Succeeded"
    assert _score(door, "late", {}).status_code == 200
    ml_client.online_deployments.begin_delete("late", endpoint_name=door["endpoint"]).result()


def test_settings_are_read_back_through_the_sdk(ml_client: MLClient, door: dict) -> None:
    slow = ml_client.online_deployments.get("slow", door["endpoint"])
    assert slow.request_settings.request_timeout_ms == 1000
    assert slow.request_settings.max_concurrent_requests_per_instance == 1
