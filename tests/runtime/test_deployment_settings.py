"""deploy_model's serving settings (issue 21) through the component and the real SDK, in local mode.

Every setting given is read back through the SDK as Azure returns it; the same settings again
write nothing; each changed setting alone is written; a change of the endpoint's own settings
writes the endpoint only.
"""

import pytest

from azml_components.runtime.register import azml_register_model
from tests.helpers import azure_writes, ml_client, unique, workspace, write_custom_model
from tests.runtime.test_deploy import _arguments, _deploy

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def client(standin):
    return ml_client()


@pytest.fixture(scope="module")
def models(standin, tmp_path_factory) -> dict:
    """A registered custom model and its scoring folder, as test_deploy's _deploy takes them."""
    model_dir, code_dir, model = write_custom_model(tmp_path_factory.mktemp("settings"),
                                                    alpha=0.5)
    registered = azml_register_model(**workspace(), model_name=unique("settings-blue"),
                                     model_path=str(model_dir))
    return {"blue": {"asset_id": registered["asset_id"], "code": str(code_dir), "model": model}}

# Microsoft's deployment YAML keys, one to one (reference-yaml-deployment-managed-online).
EVERY_SETTING = {
    "auth_mode": "AMLToken",
    "request_settings": {"request_timeout_ms": 90000, "max_concurrent_requests_per_instance": 4,
                         "max_queue_wait_ms": 2000},
    "liveness_probe": {"initial_delay": 30, "period": 20, "timeout": 5, "success_threshold": 1,
                       "failure_threshold": 10},
    "readiness_probe": {"initial_delay": 15, "period": 5, "timeout": 3, "success_threshold": 2,
                        "failure_threshold": 6},
    "app_insights_enabled": True,
    "egress_public_network_access": "disabled",
    "description": "diabetes regression, blue",
    "tags": {"team": "ml", "stage": "prod"},
    "endpoint_description": "diabetes scoring",
    "endpoint_tags": {"cost-center": "42"},
    "public_network_access": "disabled",
}
LINEAGE = {"kfp_run_id": "run-1234", "kfp_pipeline": "train-and-deploy"}


def test_every_setting_is_deployed_and_read_back_through_the_sdk(models, client, standin,
                                                                 tmp_path):
    # Through the component itself (its KFP inputs, as a pipeline passes them).
    from kfp import dsl

    from azml_components import deploy_model

    endpoint = unique("settings-all")
    artifact = dsl.Artifact(uri=str(tmp_path / "endpoint"))
    deploy_model.python_func(
        **workspace(), endpoint_name=endpoint, deployment_name="blue",
        model_id=models["blue"]["asset_id"], code=dsl.Artifact(uri=models["blue"]["code"]),
        conda_file="conda.yaml", timeout_seconds=300, endpoint=artifact,
        report=dsl.Markdown(uri=str(tmp_path / "report.md")), **EVERY_SETTING,
        pipeline_run_id=LINEAGE["kfp_run_id"], pipeline_name=LINEAGE["kfp_pipeline"],
    )
    result = artifact.metadata
    assert result["created_endpoint"] is True and result["auth_mode"] == "aml_token"
    live = client.online_deployments.get("blue", endpoint)
    request = live.request_settings
    assert (request.request_timeout_ms, request.max_concurrent_requests_per_instance,
            request.max_queue_wait_ms) == (90000, 4, 2000)
    for probe, given in ((live.liveness_probe, EVERY_SETTING["liveness_probe"]),
                         (live.readiness_probe, EVERY_SETTING["readiness_probe"])):
        assert {key: getattr(probe, key) for key in given} == given
    assert live.app_insights_enabled is True
    assert live.egress_public_network_access.lower() == "disabled"
    assert live.description == "diabetes regression, blue"
    assert live.tags == {"team": "ml", "stage": "prod", **LINEAGE}
    ep = client.online_endpoints.get(endpoint)
    assert ep.auth_mode == "aml_token" and ep.description == "diabetes scoring"
    assert ep.public_network_access.lower() == "disabled"
    assert ep.tags == {"created_by": "azml-components", "cost-center": "42"}
    # The same settings again, from another run: nothing is written (the lineage tags keep
    # the run that last wrote the deployment).
    standin.clear_requests()
    again = _deploy(models, "blue", endpoint, "blue", **EVERY_SETTING,
                    lineage={"kfp_run_id": "run-5678", "kfp_pipeline": "train-and-deploy"})
    assert again["unchanged"] is True and azure_writes(standin.requests()) == []
    assert client.online_deployments.get("blue", endpoint).tags["kfp_run_id"] == "run-1234"
    client.online_endpoints.begin_delete(endpoint).result()


def test_a_deployment_given_no_settings_reads_back_azures_defaults(models, client):
    endpoint = unique("settings-none")
    _deploy(models, "blue", endpoint, "blue")
    live = client.online_deployments.get("blue", endpoint)
    assert (live.request_settings.request_timeout_ms,
            live.request_settings.max_concurrent_requests_per_instance) == (5000, 1)
    for probe in (live.liveness_probe, live.readiness_probe):
        assert (probe.initial_delay, probe.period, probe.timeout, probe.success_threshold,
                probe.failure_threshold) == (10, 10, 2, 1, 30)
    assert live.app_insights_enabled is False
    assert live.egress_public_network_access.lower() == "enabled"
    # Azure's defaults given explicitly are the same deployment.
    same = _deploy(models, "blue", endpoint, "blue",
                   request_settings={"request_timeout_ms": 5000},
                   liveness_probe={"failure_threshold": 30}, egress_public_network_access="")
    assert same["unchanged"] is True
    client.online_endpoints.begin_delete(endpoint).result()


SETTING_CHANGES = {
    "request-timeout": {"request_settings": {"request_timeout_ms": 60000}},
    "concurrency": {"request_settings": {"max_concurrent_requests_per_instance": 2}},
    "queue-wait": {"request_settings": {"max_queue_wait_ms": 1000}},
    "liveness-delay": {"liveness_probe": {"initial_delay": 20}},
    "liveness-failures": {"liveness_probe": {"failure_threshold": 3}},
    "readiness-period": {"readiness_probe": {"period": 3}},
    "readiness-successes": {"readiness_probe": {"success_threshold": 2}},
    "readiness-timeout": {"readiness_probe": {"timeout": 4}},
    "app-insights": {"app_insights_enabled": True},
    "egress": {"egress_public_network_access": "disabled"},
    "description": {"description": "another"},
    "tags": {"tags": {"team": "ml"}},
}


@pytest.fixture(scope="module")
def plain_endpoint(models) -> str:
    endpoint = unique("settings-plain")
    _deploy(models, "blue", endpoint, "blue")
    return endpoint


def _unchanged(models, endpoint, **overrides) -> bool:
    # The no-op decision alone (reads only), as deploy_model makes it.
    from azml_components.runtime.deploy import (
        azml_check_deployment_inputs,
        azml_deployment_entity,
        azml_deployment_unchanged,
        azml_plan_deployment,
        azml_read_deployment_state,
    )

    client = ml_client()
    lineage = overrides.pop("lineage", None)
    arguments = _arguments(models, "blue", endpoint, "blue", **overrides)
    options = azml_check_deployment_inputs(endpoint, "blue", arguments["model_id"],
                                           arguments["options"], 300)
    state = azml_read_deployment_state(client, endpoint, arguments["model_id"], options, 300)
    plan = azml_plan_deployment(state, arguments["model_id"], "blue", options, 100)
    deployment = azml_deployment_entity(endpoint, "blue", arguments["model_id"], options, plan,
                                        lineage)
    return azml_deployment_unchanged(client, state, plan, deployment) and not plan.endpoint_changes


@pytest.mark.parametrize("change", SETTING_CHANGES.values(), ids=SETTING_CHANGES.keys())
def test_each_changed_setting_makes_a_redeploy_an_update(models, plain_endpoint, change):
    assert _unchanged(models, plain_endpoint, **change) is False
    # ... while the same arguments from another run (other lineage) are the same.
    assert _unchanged(models, plain_endpoint, lineage=LINEAGE) is True


def test_durations_that_are_not_whole_seconds_are_taken_and_always_written(models,
                                                                         plain_endpoint):
    # Microsoft's samples write e.g. max_queue_wait_ms: 500 (Azure's default). The SDK reads
    # millisecond durations back in whole seconds only, so whether Azure already has such a
    # value cannot be read: the deployment is written again rather than a change being missed.
    for settings in ({"max_queue_wait_ms": 500}, {"request_timeout_ms": 1500}):
        assert _unchanged(models, plain_endpoint, request_settings=settings) is False
    assert _unchanged(models, plain_endpoint, request_settings={"request_timeout_ms": 5000})


def test_a_changed_request_timeout_is_written(models, client, standin):
    endpoint = unique("settings-timeout")
    _deploy(models, "blue", endpoint, "blue", request_settings={"request_timeout_ms": 10000})
    standin.clear_requests()
    changed = _deploy(models, "blue", endpoint, "blue",
                      request_settings={"request_timeout_ms": 20000})
    assert changed["unchanged"] is False
    assert [r for r in azure_writes(standin.requests())
            if r["method"] == "PUT" and r["path"].endswith(f"/onlineEndpoints/{endpoint}"
                                                           "/deployments/blue")]
    live = client.online_deployments.get("blue", endpoint)
    assert live.request_settings.request_timeout_ms == 20000
    client.online_endpoints.begin_delete(endpoint).result()


def test_changed_endpoint_settings_write_the_endpoint_only(models, client, standin):
    # The endpoint's description, network access and tags are written with its traffic; the
    # deployment, the same as before, is not; the endpoint's other tags are kept.
    endpoint = unique("settings-endpoint")
    _deploy(models, "blue", endpoint, "blue", endpoint_tags={"owner": "team-a"})
    standin.clear_requests()
    changed = _deploy(models, "blue", endpoint, "blue", endpoint_description="v2",
                      endpoint_tags={"stage": "prod"}, public_network_access="Disabled")
    assert changed["unchanged"] is False
    writes = azure_writes(standin.requests())
    assert [w["path"].rsplit("/", 2)[-2:] for w in writes if w["method"] == "PUT"] == [
        ["onlineEndpoints", endpoint]]
    ep = client.online_endpoints.get(endpoint)
    assert ep.description == "v2" and ep.public_network_access.lower() == "disabled"
    assert ep.tags == {"created_by": "azml-components", "owner": "team-a", "stage": "prod"}
    assert ep.traffic == {"blue": 100}
    # Not given: kept as they are, nothing written.
    standin.clear_requests()
    assert _deploy(models, "blue", endpoint, "blue")["unchanged"] is True
    assert azure_writes(standin.requests()) == []
    client.online_endpoints.begin_delete(endpoint).result()


def test_safe_rollouts_new_deployment_takes_the_settings(models, client):
    # safe_rollout shares deploy_model's options: its new deployment and the endpoint it
    # creates get them, and the new deployment records the run.
    from azml_components.runtime.rollout import azml_safe_rollout
    from tests.helpers import data_payload, diabetes_rows

    endpoint = unique("settings-rollout")
    options = _arguments(models, "blue", endpoint, "green")["options"]
    result = azml_safe_rollout(
        **workspace(), endpoint_name=endpoint, deployment_name="green",
        model_id=models["blue"]["asset_id"], payload=data_payload(diabetes_rows()),
        options={**options, "request_settings": {"request_timeout_ms": 30000},
                 "readiness_probe": {"failure_threshold": 5}, "auth_mode": "Key",
                 "tags": {"team": "ml"}, "endpoint_description": "rolled out"},
        traffic_steps=[100], timeout_seconds=300, lineage=LINEAGE,
    )
    assert result["traffic"] == {"green": 100}
    live = client.online_deployments.get("green", endpoint)
    assert live.request_settings.request_timeout_ms == 30000
    assert live.readiness_probe.failure_threshold == 5
    assert live.tags == {"team": "ml", **LINEAGE}
    ep = client.online_endpoints.get(endpoint)
    assert ep.description == "rolled out" and ep.auth_mode == "key"
    client.online_endpoints.begin_delete(endpoint).result()


def _checklist_yaml() -> dict:
    # The managed online deployment YAML the production checklist page shows, as Microsoft's
    # samples write it (keys of reference-yaml-deployment-managed-online).
    import re
    from pathlib import Path

    import yaml

    page = Path(__file__).resolve().parents[2] / "docs" / "production-checklist.md"
    block = re.search(r"```yaml\n(.*?)```", page.read_text(), re.S).group(1)
    return yaml.safe_load(block)


def test_the_checklists_microsoft_yaml_deploys_key_for_key(models, client):
    # Each YAML key is the component input of the same name; what Azure reads back is what the
    # YAML says (durations in the whole seconds the SDK reads back).
    written = _checklist_yaml()
    endpoint = unique("settings-yaml")
    result = _deploy(models, "blue", endpoint, "blue", **written)
    live = client.online_deployments.get("blue", endpoint)
    assert (live.instance_type, live.instance_count) == (written["instance_type"],
                                                         written["instance_count"])
    requested = written["request_settings"]
    assert live.request_settings.request_timeout_ms == requested["request_timeout_ms"]
    assert (live.request_settings.max_concurrent_requests_per_instance
            == requested["max_concurrent_requests_per_instance"])
    for name in ("liveness_probe", "readiness_probe"):
        for key, value in written[name].items():
            assert getattr(getattr(live, name), key) == value, (name, key)
    assert live.app_insights_enabled is written["app_insights_enabled"]
    assert result["unchanged"] is False
    client.online_endpoints.begin_delete(endpoint).result()
