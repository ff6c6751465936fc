"""deploy_model's and invoke_endpoint's runtime through the real SDK against the stand-in.

Every test owns its endpoint (unique names, any order); the ones that only read share a module
endpoint with a working blue deployment and leave it as they found it.
"""

import inspect
import json
import os
import shutil
import signal
import time

import numpy as np
import pytest
from azure.ai.ml import MLClient
from azure.core.exceptions import ResourceNotFoundError

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.deployment_options import azml_deployment_options
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.register import azml_register_model
from tests import child_call
from tests.helpers import (
    CONDA_YAML,
    azure_writes,
    data_payload,
    diabetes_rows,
    ml_client,
    unique,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(600)
OPTIONS = set(inspect.signature(azml_deployment_options).parameters)


@pytest.fixture(scope="module")
def client(standin) -> MLClient:
    return ml_client()


@pytest.fixture(scope="module")
def models(standin, tmp_path_factory):
    """Two registered custom models (different alphas) and a broken scoring folder."""
    root = tmp_path_factory.mktemp("models")
    made = {}
    for name, alpha in (("blue", 0.5), ("green", 5.0)):
        model_dir, code_dir, model = write_custom_model(root / name, alpha=alpha)
        registered = azml_register_model(**workspace(), model_name=unique(f"deploy-{name}"),
                                         model_path=str(model_dir))
        made[name] = {"asset_id": registered["asset_id"], "code": str(code_dir), "model": model}
    _, broken_code, _ = write_custom_model(root / "broken", init_raises=True)
    made["broken_code"] = str(broken_code)
    return made


def _arguments(models, name, endpoint, deployment, **overrides) -> dict:
    # Overrides go to the deployment options or to deploy_model's own arguments, by name.
    options = {"code_path": models[name]["code"], "scoring_script": "score.py",
               "conda_file": "conda.yaml"}
    options.update({k: v for k, v in overrides.items() if k in OPTIONS})
    return {**workspace(), "endpoint_name": endpoint, "deployment_name": deployment,
            "model_id": models[name]["asset_id"], "timeout_seconds": 300,
            **{k: v for k, v in overrides.items() if k not in OPTIONS}, "options": options}


def _deploy(models, name, endpoint, deployment, **overrides):
    return azml_deploy_model(**_arguments(models, name, endpoint, deployment, **overrides))


def _predict(endpoint: str, deployment: str = "") -> list:
    result = azml_invoke_endpoint(**workspace(), endpoint_name=endpoint,
                                  payload=data_payload(diabetes_rows()),
                                  deployment_name=deployment)
    assert result["problems"] == [], result
    return result["response"]


def _names(client, endpoint: str) -> set:
    return {d.name for d in client.online_deployments.list(endpoint)}


@pytest.fixture(scope="module")
def blue_endpoint(models) -> str:
    """An endpoint serving blue with all traffic; tests using it must leave it so."""
    endpoint = unique("deploy-shared")
    _deploy(models, "blue", endpoint, "blue")
    return endpoint


def _blue_serves_alone(client, models, endpoint: str) -> None:
    assert _names(client, endpoint) == {"blue"}
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}
    assert np.allclose(_predict(endpoint), models["blue"]["model"].predict(diabetes_rows()))


def test_first_deployment_creates_the_endpoint_and_serves_predictions(models, client):
    endpoint = unique("deploy-first")
    result = _deploy(models, "blue", endpoint, "blue")
    assert result["created_endpoint"] is True
    assert result["traffic"] == {"blue": 100} and result["previous_traffic"] == {}
    assert result["mirror_traffic"] == {}
    assert result["scoring_uri"].startswith("https://127.0.0.1:")
    assert result["endpoint_id"].lower().endswith(f"/onlineendpoints/{endpoint}")
    assert result["deployment_id"].lower().endswith(f"/onlineendpoints/{endpoint}/deployments/blue")
    assert (result["endpoint_name"], result["deployment_name"]) == (endpoint, "blue")
    assert result["model_id"] == models["blue"]["asset_id"]
    assert result["model_type"] == "custom_model" and result["auth_mode"] == "key"
    expected = models["blue"]["model"].predict(diabetes_rows())
    assert np.allclose(_predict(endpoint), expected)
    # Keys stay in Azure: nothing key-like is in what the component writes out.
    keys = client.online_endpoints.get_keys(endpoint)
    text = json.dumps(result)
    assert keys.primary_key not in text and keys.secondary_key not in text
    assert os.environ["AZ_CLIENT_SECRET"] not in text
    # The endpoint it created says who made it (ARM tags).
    assert client.online_endpoints.get(endpoint).tags == {"created_by": "azml-components"}
    assert result["unchanged"] is False


def test_redeploying_the_same_writes_nothing(models, client, standin, tmp_path):
    endpoint = unique("deploy-same")
    first = _deploy(models, "blue", endpoint, "blue")
    assert first["unchanged"] is False
    # The same code in another folder (a later run's artifact): the SDK's content hash of the
    # code is what makes it the same code.
    code = tmp_path / "code"
    shutil.copytree(models["blue"]["code"], code)
    standin.clear_requests()
    again = _deploy(models, "blue", endpoint, "blue", code_path=str(code))
    assert again["unchanged"] is True and again["created_endpoint"] is False
    # Nothing written, and no code upload: how fast that is belongs to `nox -s bench`.
    assert azure_writes(standin.requests()) == []
    assert again["traffic"] == {"blue": 100} and again["previous_traffic"] == {"blue": 100}
    assert again["deployment_id"] == first["deployment_id"]
    assert again["scoring_uri"] == first["scoring_uri"]
    # One changed line in the scoring script is new code: the deployment is updated.
    (code / "score.py").write_text((code / "score.py").read_text() + "# changed\n")
    standin.clear_requests()
    changed = _deploy(models, "blue", endpoint, "blue", code_path=str(code))
    assert changed["unchanged"] is False
    assert [r for r in azure_writes(standin.requests())
            if r["method"] == "PUT" and r["path"].endswith(f"/onlineEndpoints/{endpoint}"
                                                           "/deployments/blue")]
    assert np.allclose(_predict(endpoint), models["blue"]["model"].predict(diabetes_rows()))


@pytest.mark.parametrize("change", [
    {"instance_count": 2}, {"environment_variables": {"A": "1"}}, {"model": "green"},
    {"traffic_percent": 0}, {"conda_file": "other"},
])
def test_what_makes_a_redeploy_not_the_same(models, blue_endpoint, change):
    # Only the decision is checked here (reads): each change alone makes it a real update.
    from azml_components.runtime.deploy import (
        azml_check_deployment_inputs,
        azml_deployment_entity,
        azml_deployment_unchanged,
        azml_plan_deployment,
        azml_read_deployment_state,
    )

    endpoint = blue_endpoint
    client = ml_client()
    overrides = dict(change)
    model = overrides.pop("model", "blue")
    if overrides.get("conda_file") == "other":
        overrides["conda_file"] = CONDA_YAML.replace("joblib==1.6.0", "joblib==1.5.3")
    arguments = _arguments(models, model, endpoint, "blue", **overrides)
    traffic = arguments.pop("traffic_percent", 100)
    options = azml_check_deployment_inputs(endpoint, "blue", arguments["model_id"],
                                           arguments["options"], 300)
    state = azml_read_deployment_state(client, endpoint, arguments["model_id"], options, 300)
    plan = azml_plan_deployment(state, arguments["model_id"], "blue", options, traffic)
    deployment = azml_deployment_entity(endpoint, "blue", arguments["model_id"], options, plan)
    assert azml_deployment_unchanged(client, state, plan, deployment) is False
    # ... while the same arguments are the same.
    same = _arguments(models, "blue", endpoint, "blue")
    options = azml_check_deployment_inputs(endpoint, "blue", same["model_id"], same["options"],
                                           300)
    plan = azml_plan_deployment(state, same["model_id"], "blue", options, 100)
    deployment = azml_deployment_entity(endpoint, "blue", same["model_id"], options, plan)
    assert azml_deployment_unchanged(client, state, plan, deployment) is True


def test_kubernetes_resources_and_instance_type_are_settings_of_a_redeploy(models, client,
                                                                           standin):
    # On a Kubernetes endpoint the instance type and the container requests/limits are part of
    # the deployment (KubernetesOnlineDeployment.resources): the same ones write nothing, any
    # other one is a real update.
    from azml_components.runtime.deploy import (
        azml_check_deployment_inputs,
        azml_deployment_entity,
        azml_deployment_unchanged,
        azml_plan_deployment,
        azml_read_deployment_state,
    )

    endpoint = unique("deploy-k8s-same")
    kube = {"compute": "aks-cluster", "resource_requests": {"cpu": "500m", "memory": "1Gi"}}
    first = _deploy(models, "blue", endpoint, "blue", **kube)
    assert (first["endpoint_kind"], first["unchanged"]) == ("kubernetes", False)
    standin.clear_requests()
    same = _deploy(models, "blue", endpoint, "blue", **kube)
    assert same["unchanged"] is True and azure_writes(standin.requests()) == []
    # Each change alone makes it an update (decided by reads only).
    for change in ({"instance_type": "cpu-large"}, {"resource_requests": {"cpu": "1"}},
                   {"resource_limits": {"memory": "2Gi"}}):
        arguments = _arguments(models, "blue", endpoint, "blue", **{**kube, **change})
        options = azml_check_deployment_inputs(endpoint, "blue", arguments["model_id"],
                                               arguments["options"], 300)
        state = azml_read_deployment_state(client, endpoint, arguments["model_id"], options, 300)
        plan = azml_plan_deployment(state, arguments["model_id"], "blue", options, 100)
        deployment = azml_deployment_entity(endpoint, "blue", arguments["model_id"], options,
                                            plan)
        assert azml_deployment_unchanged(client, state, plan, deployment) is False, change
    # ... and a new limit really is written to the deployment.
    standin.clear_requests()
    limited = _deploy(models, "blue", endpoint, "blue", **kube,
                      resource_limits={"memory": "2Gi"})
    assert limited["unchanged"] is False
    assert [r for r in azure_writes(standin.requests())
            if r["method"] == "PUT" and r["path"].endswith(f"/onlineEndpoints/{endpoint}"
                                                           "/deployments/blue")]
    live = client.online_deployments.get("blue", endpoint)
    assert (live.resources.requests.cpu, live.resources.limits.memory) == ("500m", "2Gi")
    client.online_endpoints.begin_delete(endpoint).result()


def test_a_kubernetes_redeploy_with_no_resources_writes_nothing(models, client, standin):
    # A Kubernetes deployment given no resource_requests/limits runs with its instance type's
    # ("If you don't define the resources section, the system uses the instance type to create
    # the deployment", Microsoft's "Create and manage instance types"), and reports those: the
    # same deploy again is the same deployment, while a real change of resources is written.
    endpoint = unique("deploy-k8s-plain")
    first = _deploy(models, "blue", endpoint, "blue", compute="aks-cluster")
    assert (first["endpoint_kind"], first["unchanged"]) == ("kubernetes", False)
    live = client.online_deployments.get("blue", endpoint)
    assert (live.resources.requests.cpu, live.resources.limits.cpu) == ("100m", "2")
    standin.clear_requests()
    again = _deploy(models, "blue", endpoint, "blue", compute="aks-cluster")
    assert again["unchanged"] is True
    # No ARM write (the code version's PUT included) and no code read for an upload.
    requests = standin.requests()
    assert azure_writes(requests) == []
    assert not [r for r in requests if "/codes/" in r["path"] and r["method"] != "GET"]
    # The instance type's own values given explicitly are the same deployment too (quantities
    # compare by value: 0.1 CPU is 100m).
    same = _deploy(models, "blue", endpoint, "blue", compute="aks-cluster",
                   resource_requests={"cpu": "0.1", "memory": "2Gi"},
                   resource_limits={"cpu": "2000m", "memory": "2Gi"})
    assert same["unchanged"] is True
    # A changed request is written.
    standin.clear_requests()
    changed = _deploy(models, "blue", endpoint, "blue", compute="aks-cluster",
                      resource_requests={"cpu": "500m", "memory": "1Gi"})
    assert changed["unchanged"] is False
    assert [r for r in azure_writes(standin.requests())
            if r["method"] == "PUT" and r["path"].endswith(f"/onlineEndpoints/{endpoint}"
                                                           "/deployments/blue")]
    live = client.online_deployments.get("blue", endpoint)
    assert (live.resources.requests.cpu, live.resources.requests.memory) == ("500m", "1Gi")
    # ... and so is going back to none (the instance type's resources again).
    standin.clear_requests()
    back = _deploy(models, "blue", endpoint, "blue", compute="aks-cluster")
    assert back["unchanged"] is False
    live = client.online_deployments.get("blue", endpoint)
    assert (live.resources.requests.cpu, live.resources.limits.cpu) == ("100m", "2")
    client.online_endpoints.begin_delete(endpoint).result()



def test_failed_new_deployment_is_removed_and_takes_no_traffic(models, client, blue_endpoint):
    with pytest.raises(RuntimeError) as raised:
        _deploy(models, "green", blue_endpoint, "green", code_path=models["broken_code"],
                traffic_percent=100)
    message = str(raised.value)
    assert "init exploded" in message  # the scoring logs come with the error
    assert "Traffic was not changed." in message
    assert "deleting failed deployment 'green': done" in message
    _blue_serves_alone(client, models, blue_endpoint)


def test_failed_update_keeps_the_existing_deployment_and_its_traffic(models, client):
    # Updating a deployment that serves traffic, with a scoring script that cannot start: the
    # update fails, and the deployment (which this run did not create) is never deleted.
    endpoint = unique("deploy-update")
    _deploy(models, "blue", endpoint, "blue")
    with pytest.raises(RuntimeError) as raised:
        _deploy(models, "green", endpoint, "blue", code_path=models["broken_code"])
    message = str(raised.value)
    assert "init exploded" in message and "Traffic was not changed." in message
    assert "deleting" not in message
    assert _names(client, endpoint) == {"blue"}
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}


def test_failed_first_deployment_deletes_the_endpoint_it_created(models, client):
    endpoint = unique("deploy-new-fails")
    with pytest.raises(RuntimeError) as raised:
        _deploy(models, "blue", endpoint, "blue", code_path=models["broken_code"])
    message = str(raised.value)
    assert "deleting failed deployment 'blue': done" in message
    assert f"deleting endpoint '{endpoint}' created by this run: done" in message
    with pytest.raises(ResourceNotFoundError):
        client.online_endpoints.get(endpoint)


def test_failed_traffic_write_puts_the_previous_traffic_back(models, client, standin):
    endpoint = unique("deploy-traffic")
    _deploy(models, "blue", endpoint, "blue")
    # The deployment succeeds; the endpoint PUT that moves traffic to it ends Failed.
    standin.lro_fault(path_regex=f"/onlineEndpoints/{endpoint}$", outcome="Failed", count=1)
    with pytest.raises(RuntimeError) as raised:
        _deploy(models, "green", endpoint, "green", traffic_percent=30)
    assert "restoring traffic {'blue': 100}: done" in str(raised.value)
    endpoint_now = client.online_endpoints.get(endpoint)
    assert {k: v for k, v in endpoint_now.traffic.items() if v} == {"blue": 100}
    assert np.allclose(_predict(endpoint), models["blue"]["model"].predict(diabetes_rows()))


def test_canary_share_keeps_the_rest_on_blue_then_full_cutover(models, client):
    endpoint = unique("deploy-canary")
    _deploy(models, "blue", endpoint, "blue")
    result = _deploy(models, "green", endpoint, "green", traffic_percent=0)
    assert result["traffic"] == {"blue": 100, "green": 0}
    assert result["created_endpoint"] is False
    # A deployment without traffic can be tested directly.
    assert np.allclose(_predict(endpoint, "green"),
                       models["green"]["model"].predict(diabetes_rows()))
    result = _deploy(models, "green", endpoint, "green", traffic_percent=25)
    assert result["traffic"] == {"blue": 75, "green": 25}
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 75, "green": 25}
    assert result["previous_traffic"] == {"blue": 100, "green": 0}
    result = _deploy(models, "green", endpoint, "green", traffic_percent=100)
    assert result["traffic"] == {"blue": 0, "green": 100}
    assert np.allclose(_predict(endpoint), models["green"]["model"].predict(diabetes_rows()))


def test_new_deployment_with_live_traffic_loses_its_mirror(models, client):
    # A deployment cannot take live and mirrored traffic at once: giving the mirrored
    # deployment a live share takes its mirror away in the same write.
    endpoint = unique("deploy-mirror")
    _deploy(models, "blue", endpoint, "blue")
    _deploy(models, "green", endpoint, "green", traffic_percent=0)
    entity = client.online_endpoints.get(endpoint)
    entity.mirror_traffic = {"green": 20}
    client.online_endpoints.begin_create_or_update(entity).result()
    kept = _deploy(models, "green", endpoint, "green", traffic_percent=0)
    assert kept["mirror_traffic"] == {"green": 20}  # 0% live: the mirror stays
    result = _deploy(models, "green", endpoint, "green", traffic_percent=40)
    assert result["traffic"] == {"blue": 60, "green": 40}
    assert result["mirror_traffic"] == {}
    assert not client.online_endpoints.get(endpoint).mirror_traffic


def test_mlflow_model_deploys_without_code(standin, tmp_path):
    import mlflow.sklearn

    from tests.helpers import train_ridge

    model = train_ridge(alpha=2.0)
    mlflow.sklearn.save_model(model, str(tmp_path / "mlmodel"), serialization_format="cloudpickle")
    endpoint = unique("deploy-mlflow")
    registered = azml_register_model(**workspace(), model_name=endpoint,
                                     model_path=str(tmp_path / "mlmodel"),
                                     model_type="mlflow_model")
    result = azml_deploy_model(**workspace(), endpoint_name=endpoint,
                               deployment_name="nocode", model_id=registered["asset_id"],
                               timeout_seconds=300)
    assert result["studio_url"].startswith(f"https://ml.azure.com/endpoints/realtime/{endpoint}/")
    assert result["model_type"] == "mlflow_model"
    rows = diabetes_rows()
    payload = {"input_data": {"columns": [f"x{i}" for i in range(rows.shape[1])],
                              "index": list(range(len(rows))), "data": rows.tolist()}}
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=result["endpoint_name"],
                                  payload=json.dumps(payload))
    assert answer["problems"] == [], answer
    assert np.allclose(answer["response"], model.predict(rows))


def test_smoke_test_reports_what_did_not_match(models, blue_endpoint):
    result = azml_invoke_endpoint(**workspace(), endpoint_name=blue_endpoint,
                                  payload=json.dumps({"data": [[0.0] * 10, [1.0] * 10]}),
                                  json_schema=json.dumps({"type": "array",
                                                          "items": {"type": "string"}}))
    assert result["status"] == 200
    assert any(p.startswith("json_schema: at 0:") for p in result["problems"]), result
    wrong_rows = azml_invoke_endpoint(**workspace(), endpoint_name=blue_endpoint,
                                      payload=json.dumps({"data": [[0.0] * 3]}))
    assert wrong_rows["status"] >= 400 and wrong_rows["problems"][0].startswith("status: ")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_name": "ab"}, "^endpoint_name: 'ab' is not a valid name"),
        ({"deployment_name": "9lives"}, "^deployment_name: "),
        ({"instance_count": 0}, "^instance_count: 0 must be at least 1"),
        ({"traffic_percent": 101}, "^traffic_percent: 101 must be between 0 and 100"),
        ({"scoring_script": "missing.py"}, "^scoring_script: 'missing.py' is not in the code"),
        ({"model_id": "deploy-blue"}, "^model_id: "),
        ({"auth_mode": "aad"}, "^auth_mode: 'aad' is not one of"),
        ({"conda_file": "", "image": ""}, "^environment: model .* needs|give conda_file"),
    ],
)
def test_bad_input_fails_before_any_write(models, standin, blue_endpoint, overrides, message):
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        _deploy(models, "blue", blue_endpoint, "blue-two", **overrides)
    # Getting a token is not a write to Azure; anything else under /subscriptions/ would be.
    assert azure_writes(standin.requests()) == []


# A scope that does not exist: ARM's own 404s (ResourceGroupNotFound, SubscriptionNotFound,
# ResourceNotFound for the workspace), never "model_id: ... is not registered".
MISSING_SCOPES = [
    ({"workspace_name": "no-such-workspace"}, "^workspace_name: workspace 'no-such-workspace' "
                                              "was not found in resource group"),
    ({"resource_group": "no-such-rg"}, "^resource_group: resource group 'no-such-rg' was not "
                                       "found in subscription"),
    ({"subscription_id": "0f0f0f0f-0000-4000-8000-00000000beef"},
     "^subscription_id: subscription '0f0f0f0f-0000-4000-8000-00000000beef' was not found"),
]


@pytest.mark.parametrize(("scope", "message"), MISSING_SCOPES,
                         ids=[next(iter(s)) for s, _ in MISSING_SCOPES])
def test_a_workspace_that_does_not_exist_is_named_as_such(models, standin, scope, message):
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        _deploy(models, "blue", unique("deploy-nows"), "blue", **scope)
    assert azure_writes(standin.requests()) == []


def test_sigterm_while_waiting_stops_and_leaves_traffic(models, client, standin):
    # deploy_model runs in a child process (tests.child_call); only that process is signalled.
    endpoint = unique("deploy-sigterm")
    _deploy(models, "blue", endpoint, "blue")
    slow = f"/onlineEndpoints/{endpoint}/deployments/green"
    standin.lro_fault(path_regex=slow + "$", outcome="Slow", delay_seconds=10, count=1)
    standin.clear_requests()
    child = child_call.start("azml_components.runtime.deploy:azml_deploy_model",
                             **_arguments(models, "green", endpoint, "green",
                                          traffic_percent=100))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None and not any(
                r["method"] == "PUT" and r["path"].endswith(slow) for r in standin.requests()):
            time.sleep(0.2)
        child.send_signal(signal.SIGTERM)
        report = child_call.outcome(child, timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert report["error"] == "InterruptedError", report
    assert "cancelled by SIGTERM" in report["message"]
    assert report["handler_restored"] is True  # the caller's SIGTERM handler is back
    traffic = client.online_endpoints.get(endpoint).traffic
    assert {name: share for name, share in traffic.items() if share} == {"blue": 100}
    # The undo after SIGTERM has a bounded allowance (azml_cleanup_seconds): on a busy machine
    # the slow deployment may outlast it, and then the error names what is left.
    if any(d.name == "green" for d in client.online_deployments.list(endpoint)):
        assert "is left" in report["message"], report
    else:
        assert traffic == {"blue": 100}


def test_code_folder_inside_the_model(standin, tmp_path):
    import shutil

    model_dir, code_dir, model = write_custom_model(tmp_path, alpha=1.5)
    shutil.copytree(code_dir, model_dir / "code")
    registered = azml_register_model(**workspace(), model_name=unique("deploy-code-inside"),
                                     model_path=str(model_dir))
    arguments = {**workspace(), "endpoint_name": unique("deploy-inside"), "deployment_name": "blue",
                 "model_id": registered["asset_id"], "timeout_seconds": 300}
    options = {"scoring_script": "score.py", "conda_file": "conda.yaml"}
    standin.clear_requests()
    with pytest.raises(ValueError, match="code_in_model: 'nope' is not a folder inside model"):
        azml_deploy_model(**arguments, options={**options, "code_in_model": "nope"})
    with pytest.raises(ValueError, match="scoring_script: 'other.py' is not in the code folder"):
        azml_deploy_model(**arguments, options={**options, "scoring_script": "other.py",
                                                "code_in_model": "code"})
    assert azure_writes(standin.requests()) == []
    result = azml_deploy_model(**arguments, options={**options, "code_in_model": "code"})
    answer = azml_invoke_endpoint(**workspace(), endpoint_name=result["endpoint_name"],
                                  payload=data_payload(diabetes_rows()))
    assert np.allclose(answer["response"], model.predict(diabetes_rows()))


def test_a_changed_environment_variable_value_is_written(models, client, standin):
    # The same names with another value are another deployment (the scoring code reads them).
    endpoint = unique("deploy-env")
    _deploy(models, "blue", endpoint, "blue", environment_variables={"MODE": "a"})
    standin.clear_requests()
    same = _deploy(models, "blue", endpoint, "blue", environment_variables={"MODE": "a"})
    assert same["unchanged"] is True and azure_writes(standin.requests()) == []
    changed = _deploy(models, "blue", endpoint, "blue", environment_variables={"MODE": "b"})
    assert changed["unchanged"] is False
    live = client.online_deployments.get("blue", endpoint)
    assert live.environment_variables["MODE"] == "b"
