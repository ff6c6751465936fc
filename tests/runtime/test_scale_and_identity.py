"""Scale and endpoint identity (issue 21, items 3 and 5) through the real SDKs against local mode.

Autoscale settings are read back with azure-mgmt-monitor's MonitorManagementClient (the
client Microsoft's "Autoscale online endpoints" article uses), deployments and endpoints with
azure-ai-ml. One module endpoint carries a deployment with autoscale and a user-assigned
identity; the tests that delete things own their endpoints.
"""

import copy

import pytest
from azml_local.resources.identities import SEEDED
from azure.ai.ml.entities import (
    IdentityConfiguration,
    KubernetesOnlineEndpoint,
    ManagedOnlineEndpoint,
    TargetUtilizationScaleSettings,
)
from azure.core.exceptions import HttpResponseError
from azure.mgmt.monitor import MonitorManagementClient

from azml_components.runtime.autoscale import azml_autoscale_setting_name
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.endpoints import azml_delete_deployment, azml_delete_endpoint
from azml_components.runtime.register import azml_register_model
from tests.helpers import azure_writes, ml_client, unique, workspace, write_custom_model

pytestmark = pytest.mark.timeout(600)

AUTOSCALE = {
    "min_instances": 1, "max_instances": 4, "default_instances": 2,
    "rules": [
        {"metric": "CpuUtilizationPercentage", "operator": "GreaterThan", "threshold": 70,
         "direction": "Increase", "change": 2, "cooldown": "PT10M"},
        {"metric": "CpuUtilizationPercentage", "operator": "LessThan", "threshold": 25,
         "direction": "Decrease"},
        {"metric": "RequestLatency", "operator": "GreaterThan", "threshold": 70,
         "direction": "Increase", "time_window": "PT10M", "time_aggregation": "Maximum"},
    ],
}


def _identity_id() -> str:
    ws = workspace()
    return (f"/subscriptions/{ws['subscription_id']}/resourceGroups/{ws['resource_group']}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{SEEDED}")


@pytest.fixture(scope="module")
def client(standin):
    return ml_client()


@pytest.fixture(scope="module")
def monitor(client):
    # Built as azml_monitor_client builds the run's: the MLClient's credential, ARM address
    # and token scope.
    return MonitorManagementClient(client._credential, client.subscription_id,
                                   base_url=client._base_url,
                                   credential_scopes=client._kwargs["credential_scopes"])


@pytest.fixture(scope="module")
def model(standin, tmp_path_factory):
    model_dir, code_dir, _ = write_custom_model(tmp_path_factory.mktemp("scale"))
    registered = azml_register_model(**workspace(), model_name=unique("scale"),
                                     model_path=str(model_dir))
    return {"model_id": registered["asset_id"], "code": str(code_dir)}


def _deploy(model, endpoint, deployment, traffic_percent=100, **options):
    return azml_deploy_model(
        **workspace(), endpoint_name=endpoint, deployment_name=deployment,
        model_id=model["model_id"], traffic_percent=traffic_percent, timeout_seconds=300,
        options={"code_path": model["code"], "conda_file": "conda.yaml", **options},
    )


def _settings_for(monitor, endpoint: str) -> dict:
    group = workspace()["resource_group"]
    return {s.name: s for s in monitor.autoscale_settings.list_by_resource_group(group)
            if f"/onlineendpoints/{endpoint.lower()}/" in s.target_resource_uri.lower()}


@pytest.fixture(scope="module")
def scaled(model, client):
    """An endpoint with a user-assigned identity and deployment blue, autoscaled."""
    endpoint = unique("scale")
    result = _deploy(model, endpoint, "blue", autoscale=AUTOSCALE,
                     identity_type="user_assigned", user_assigned_identities=[_identity_id()])
    return {"endpoint": endpoint, "result": result}


def test_autoscale_is_written_as_azure_documents_it(scaled, client, monitor, standin):
    endpoint = scaled["endpoint"]
    name = azml_autoscale_setting_name(endpoint, "blue")
    assert scaled["result"]["autoscale_setting"] == name
    setting = monitor.autoscale_settings.get(workspace()["resource_group"], name)
    deployment = client.online_deployments.get("blue", endpoint)
    endpoint_id = client.online_endpoints.get(endpoint).id
    assert setting.target_resource_uri.lower() == deployment.id.lower()
    assert setting.enabled is True
    (profile,) = setting.profiles
    assert (profile.capacity.minimum, profile.capacity.maximum, profile.capacity.default) == (
        "1", "4", "2")
    out, down, latency = profile.rules
    assert (out.metric_trigger.metric_name, out.metric_trigger.operator,
            out.metric_trigger.threshold) == ("CpuUtilizationPercentage", "GreaterThan", 70)
    assert out.metric_trigger.metric_resource_uri.lower() == deployment.id.lower()
    assert out.metric_trigger.metric_namespace.endswith("/onlineEndpoints/deployments")
    assert (out.scale_action.direction, out.scale_action.value,
            out.scale_action.cooldown.total_seconds()) == ("Increase", "2", 600)
    # Defaults: one instance per action, 5 minutes' average over 1-minute grains, 5 min cool.
    assert (down.scale_action.direction, down.scale_action.value) == ("Decrease", "1")
    assert down.metric_trigger.time_window.total_seconds() == 300
    assert down.metric_trigger.time_grain.total_seconds() == 60
    assert down.scale_action.cooldown.total_seconds() == 300
    # RequestLatency is the endpoint's metric: read from the endpoint, as the how-to does.
    assert latency.metric_trigger.metric_resource_uri.lower() == endpoint_id.lower()
    assert latency.metric_trigger.time_aggregation == "Maximum"


def test_a_redeploy_writes_only_a_changed_autoscale_setting(scaled, model, monitor, standin):
    endpoint = scaled["endpoint"]
    standin.clear_requests()
    again = _deploy(model, endpoint, "blue", autoscale=AUTOSCALE)
    assert again["unchanged"] is True
    assert azure_writes(standin.requests()) == []
    changed = copy.deepcopy(AUTOSCALE)
    changed["max_instances"] = 5
    standin.clear_requests()
    try:
        after = _deploy(model, endpoint, "blue", autoscale=changed)
        writes = azure_writes(standin.requests())
        # Only the setting was written: the deployment itself did not change.
        assert after["unchanged"] is False
        assert [w["method"] for w in writes] == ["PUT"]
        assert "/microsoft.insights/autoscalesettings/" in writes[0]["path"].lower()
        name = azml_autoscale_setting_name(endpoint, "blue")
        setting = monitor.autoscale_settings.get(workspace()["resource_group"], name)
        assert setting.profiles[0].capacity.maximum == "5"
    finally:  # the module's endpoint is shared: the other tests expect AUTOSCALE on it
        _deploy(model, endpoint, "blue", autoscale=AUTOSCALE)


def test_the_endpoint_has_the_user_assigned_identity(scaled, client):
    endpoint = client.online_endpoints.get(scaled["endpoint"])
    assert endpoint.identity.type == "user_assigned"
    (identity,) = endpoint.identity.user_assigned_identities
    assert identity.resource_id.lower() == _identity_id().lower()
    assert scaled["result"]["endpoint_identity"] == "user_assigned"


def test_deleting_a_deployment_or_endpoint_removes_its_autoscale_settings(model, monitor):
    endpoint = unique("scale-del")
    _deploy(model, endpoint, "blue", autoscale=AUTOSCALE)
    _deploy(model, endpoint, "green", traffic_percent=0, autoscale=AUTOSCALE)
    names = {azml_autoscale_setting_name(endpoint, d) for d in ("blue", "green")}
    assert set(_settings_for(monitor, endpoint)) == names
    assert azml_delete_deployment(**workspace(), endpoint_name=endpoint,
                                  deployment_name="green") is True
    # Azure keeps a setting whose target is gone; the component removed it first.
    assert set(_settings_for(monitor, endpoint)) == {azml_autoscale_setting_name(endpoint,
                                                                                 "blue")}
    assert azml_delete_endpoint(**workspace(), endpoint_name=endpoint) is True
    assert _settings_for(monitor, endpoint) == {}


def test_an_identity_that_cannot_read_autoscale_settings_still_deletes(model, monitor, standin,
                                                                        capsys):
    # 403 on the list (no microsoft.insights/autoscalesettings/read): the deployment is deleted
    # and the output says which autoscale settings may be left.
    endpoint = unique("scale-403")
    _deploy(model, endpoint, "blue")
    _deploy(model, endpoint, "green", traffic_percent=0)
    standin.fault("GET", r"(?i)/providers/microsoft\.insights/autoscalesettings", status=403,
                  retry_after=None)
    assert azml_delete_deployment(**workspace(), endpoint_name=endpoint,
                                  deployment_name="green") is True
    assert [d.name for d in ml_client().online_deployments.list(endpoint)] == ["blue"]
    assert "autoscalesettings/read" in capsys.readouterr().out


def _good_setting(client, endpoint: str) -> dict:
    deployment = client.online_deployments.get("blue", endpoint)
    return {
        "location": "westeurope",
        "target_resource_uri": deployment.id,
        "profiles": [{
            "name": "p", "capacity": {"minimum": "1", "maximum": "3", "default": "1"},
            "rules": [{
                "metric_trigger": {
                    "metric_name": "CpuUtilizationPercentage",
                    "metric_resource_uri": deployment.id, "time_grain": "PT1M",
                    "statistic": "Average", "time_window": "PT5M",
                    "time_aggregation": "Average", "operator": "GreaterThan", "threshold": 70},
                "scale_action": {"direction": "Increase", "type": "ChangeCount", "value": "1",
                                 "cooldown": "PT5M"},
            }],
        }],
    }


BAD_SETTINGS = [
    ("capacity", {"minimum": "3", "maximum": "2", "default": "2"}, "more than the maximum"),
    ("capacity", {"minimum": "1", "maximum": "2", "default": "5"}, "must be between"),
    ("capacity", {"minimum": "one", "maximum": "2", "default": "1"}, "whole number"),
    ("metric_name", "PercentageCPU", "is not supported"),
    ("metric_name", "RequestLatency", "is not supported"),  # the endpoint's, not the deployment's
    ("time_grain", "PT5M", "must be PT1M"),
    ("time_window", "PT2M", "between 5 minutes and 12 hours"),
    ("statistic", "Median", "must be one of"),
    ("time_aggregation", "Mean", "must be one of"),
    ("operator", "Above", "must be one of"),
    ("direction", "Up", "must be one of"),
    ("value", "0", "1 or greater"),
    ("cooldown", "PT30S", "between 1 minute and 1 week"),
    ("cooldown", "P8D", "between 1 minute and 1 week"),
    ("target_resource_uri", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/"
     "virtualMachineScaleSets/z", "was not found"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_SETTINGS,
                         ids=[f"{k}={v}" for k, v, _ in BAD_SETTINGS])
def test_local_mode_refuses_what_the_autoscale_spec_refuses(scaled, client, monitor, key, value,
                                                              message):
    body = _good_setting(client, scaled["endpoint"])
    profile = body["profiles"][0]
    rule = profile["rules"][0]
    for part in (body, profile, rule["metric_trigger"], rule["scale_action"]):
        if key in part:
            part[key] = value
    with pytest.raises(HttpResponseError, match=message) as raised:
        monitor.autoscale_settings.create_or_update(workspace()["resource_group"],
                                                    unique("bad-scale"), body)
    assert raised.value.status_code == 400
    # The good body goes through: the 400 was the one broken rule.
    good = _good_setting(client, scaled["endpoint"])
    name = unique("good-scale")
    made = monitor.autoscale_settings.create_or_update(workspace()["resource_group"], name, good)
    assert made.profiles[0].capacity.maximum == "3"
    monitor.autoscale_settings.delete(workspace()["resource_group"], name)


def test_kubernetes_target_utilization_is_deployed_and_compared(model, client, standin):
    endpoint = unique("scale-k8s")
    scale = {"type": "target_utilization", "min_instances": 1, "max_instances": 3,
             "polling_interval": 10, "target_utilization_percentage": 60}
    _deploy(model, endpoint, "blue", compute="aks-cluster", scale_settings=scale)
    live = client.online_deployments.get("blue", endpoint)
    assert isinstance(live.scale_settings, TargetUtilizationScaleSettings)
    assert (live.scale_settings.min_instances, live.scale_settings.max_instances,
            live.scale_settings.polling_interval,
            live.scale_settings.target_utilization_percentage) == (1, 3, 10, 60)
    standin.clear_requests()
    assert _deploy(model, endpoint, "blue", compute="aks-cluster",
                   scale_settings=scale)["unchanged"] is True
    assert azure_writes(standin.requests()) == []
    changed = _deploy(model, endpoint, "blue", compute="aks-cluster",
                      scale_settings={**scale, "max_instances": 4})
    assert changed["unchanged"] is False
    assert client.online_deployments.get("blue", endpoint).scale_settings.max_instances == 4
    # Local mode refuses what the cluster's autoscaler cannot run (max below min).
    deployment = client.online_deployments.get("blue", endpoint)
    deployment.scale_settings = TargetUtilizationScaleSettings(min_instances=3, max_instances=2)
    with pytest.raises(HttpResponseError, match="maxInstances must be at least minInstances"):
        client.online_deployments.begin_create_or_update(deployment).result()
    client.online_endpoints.begin_delete(endpoint).result()


def test_a_system_assigned_identity_has_a_principal_and_tenant(model, client):
    name = unique("ident")
    client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(
        name=name, identity=IdentityConfiguration(type="system_assigned"))).result()
    endpoint = client.online_endpoints.get(name)
    assert endpoint.identity.type == "system_assigned"
    assert endpoint.identity.principal_id and endpoint.identity.tenant_id
    # Azure's default (no identity given) is the same kind, with its own principal.
    other = unique("ident")
    client.online_endpoints.begin_create_or_update(KubernetesOnlineEndpoint(
        name=other, compute="aks-cluster")).result()
    fetched = client.online_endpoints.get(other)
    assert fetched.identity.type == "system_assigned"
    assert fetched.identity.principal_id not in ("", None, endpoint.identity.principal_id)


@pytest.mark.parametrize(("resource_id", "message"), [
    ("not-an-arm-id", "not a valid user-assigned identity"),
    ("@missing", "was not found"),
])
def test_local_mode_refuses_a_bad_or_missing_user_assigned_identity(client, resource_id,
                                                                     message):
    from azure.ai.ml.entities import ManagedIdentityConfiguration

    if resource_id == "@missing":  # well formed, but no such identity exists
        resource_id = _identity_id().replace(SEEDED, "no-such-identity")
    identity = IdentityConfiguration(type="user_assigned", user_assigned_identities=[
        ManagedIdentityConfiguration(resource_id=resource_id)])
    with pytest.raises(HttpResponseError, match=message):
        client.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name=unique("ident"), identity=identity)).result()


def test_a_rollout_removes_the_autoscale_of_what_it_deletes(model, monitor):
    from azml_components.runtime.rollout import azml_safe_rollout
    from tests.helpers import data_payload, diabetes_rows

    endpoint = unique("scale-roll")
    _deploy(model, endpoint, "blue", autoscale=AUTOSCALE)
    options = {"code_path": model["code"], "conda_file": "conda.yaml", "autoscale": AUTOSCALE}
    rollout = {**workspace(), "endpoint_name": endpoint, "model_id": model["model_id"],
               "payload": data_payload(diabetes_rows(2)), "options": options,
               "traffic_steps": [100], "timeout_seconds": 300}
    # A rollout whose smoke test fails is undone: its deployment goes, with its setting.
    with pytest.raises(RuntimeError, match="smoke test"):
        azml_safe_rollout(**rollout, deployment_name="green", expected_status=418)
    assert set(_settings_for(monitor, endpoint)) == {azml_autoscale_setting_name(endpoint,
                                                                                 "blue")}
    # A rollout that retires blue (remove_old) deletes blue's setting with it.
    done = azml_safe_rollout(**rollout, deployment_name="green", remove_old=True)
    assert done["removed"] == ["blue"]
    assert set(_settings_for(monitor, endpoint)) == {azml_autoscale_setting_name(endpoint,
                                                                                 "green")}
    azml_delete_endpoint(**workspace(), endpoint_name=endpoint)
