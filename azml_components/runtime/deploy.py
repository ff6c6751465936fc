# Deploying a registered model to a managed online endpoint, in phases: check the inputs (no
# call to Azure), read the workspace, plan every write, then apply the plan; a failed step
# undoes what this call created (azml_undo_and_raise).
from typing import Optional

from azml_components.runtime.autoscale import (
    azml_apply_autoscale,
    azml_autoscale_setting_name,
    azml_online_deployment_id,
    azml_remove_autoscale,
)
from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.calls import (
    azml_call,
    azml_cleanup_seconds,
    azml_describe_error,
    azml_enum_text,
    azml_get_or_none,
    azml_undo_and_raise,
    azml_wait,
)
from azml_components.runtime.data_collection import (
    azml_data_collector_entity,
    azml_same_data_collector,
)
from azml_components.runtime.deployment_options import (
    azml_check_code,
    azml_deployment_options,
    azml_resolve_environment,
)
from azml_components.runtime.deployment_settings import (
    azml_endpoint_changes,
    azml_lineage_keys,
    azml_probe_entity,
    azml_request_settings_entity,
    azml_same_serving_settings,
)
from azml_components.runtime.deployment_writes import (
    azml_read_deployment_back,
    azml_write_deployment,
)
from azml_components.runtime.endpoints import azml_endpoint_state
from azml_components.runtime.links import azml_studio_url
from azml_components.runtime.lookups import azml_read_registered_model
from azml_components.runtime.records import (
    AzmlDeploymentOptions,
    AzmlDeploymentPlan,
    AzmlDeploymentState,
)
from azml_components.runtime.rollout_state import azml_kfp_value, azml_recover_rollout
from azml_components.runtime.targets import (
    azml_deployment_class,
    azml_new_endpoint,
    azml_resolve_target,
    azml_resource_values,
    azml_scale_settings_of,
)
from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_plan_traffic,
    azml_same_live_traffic,
    azml_set_traffic,
    azml_traffic_of,
)
from azml_components.runtime.validation import (
    azml_check_model_id,
    azml_check_online_name,
    azml_check_range,
)


def azml_code_from_model(client, model, code_in_model: str, timeout_seconds: int) -> str:
    # Download the registered model (a read) and return its folder `code_in_model`. The SDK lays
    # a download out as <dir>/<model name>/<registered folder>/...
    import os
    import tempfile

    target = tempfile.mkdtemp(prefix="azml-model-")
    azml_wait(
        f"downloading model {model.name}:{model.version} for its code folder",
        lambda: client.models.download(model.name, version=model.version, download_path=target),
        timeout_seconds,
    )
    root = os.path.join(target, model.name)
    candidates = [os.path.join(root, code_in_model)]
    if os.path.isdir(root):
        candidates += [os.path.join(root, sub, code_in_model) for sub in sorted(os.listdir(root))]
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    raise ValueError(
        f"code_in_model: {code_in_model!r} is not a folder inside model {model.name}:"
        f"{model.version}"
    )


def azml_deployment_logs(client, endpoint_name: str, deployment_name: str) -> str:
    try:
        return client.online_deployments.get_logs(deployment_name, endpoint_name, lines=50)
    except Exception as error:  # noqa: BLE001 - logs are a courtesy in an error message
        return f"(logs unavailable: {azml_describe_error(error)})"


def azml_check_deployment_inputs(
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    options,
    timeout_seconds: int,
) -> AzmlDeploymentOptions:
    # The input checks deploy_model and safe_rollout share; returns the checked options
    # (options: an AzmlDeploymentOptions, a dict of its fields, or None for the defaults).
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    azml_check_model_id(model_id)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    if isinstance(options, AzmlDeploymentOptions):
        options = options._asdict()
    return azml_deployment_options(**(options or {}))


def azml_check_registered_environment(client, environment: str) -> None:
    # A registered environment the deployment names must exist: Azure finds a missing one only
    # at the deployment's PUT, after the code folder was uploaded. Curated environments
    # (azureml:AzureML-...) live in the azureml registry, which the service resolves itself
    # (azure-ai-ml's _operation_orchestrator passes CURATED_ENV_PREFIX names through), as are
    # registry references (azureml://registries/...): this workspace's client cannot read a
    # registry, and the deployment's PUT names a missing one.
    import re

    if environment.startswith("azureml://registries/"):
        return
    match = re.fullmatch(r"azureml:([^:@/]+)(?::([^:@/]+)|@([^:@/]+))", environment) or re.search(
        r"/environments/([^/]+)/versions/([^/]+)$", environment
    )
    if match is None:
        raise ValueError(
            f"environment: {environment!r} must be azureml:NAME:VERSION, azureml:NAME@latest "
            "or an ARM id of an environment version"
        )
    groups = match.groups()
    name, version = groups[0], groups[1]
    label = groups[2] if len(groups) > 2 else None
    if name.startswith("AzureML-"):
        return
    found = azml_get_or_none(
        f"reading environment {environment!r}",
        lambda: client.environments.get(name, version=version)
        if version else client.environments.get(name, label=label),
        client=client,
    )
    if found is None:
        raise ValueError(
            f"environment: {environment!r} is not registered in this workspace (register it "
            "first, or give conda_file and image)"
        )


def azml_read_deployment_state(
    client, endpoint_name: str, model_id: str, options: AzmlDeploymentOptions,
    timeout_seconds: int,
) -> AzmlDeploymentState:
    # Reads only: the model (and the code folder inside it), the endpoint and its deployments,
    # the target (the Kubernetes compute and its instance types; the endpoint's kind kept).
    state = azml_endpoint_state(client, endpoint_name)
    wanted = {
        "compute": options.compute,
        "instance_type": options.instance_type,
        "resource_requests": options.resource_requests,
        "resource_limits": options.resource_limits,
    }
    target = azml_resolve_target(client, endpoint_name, wanted, state["endpoint"])
    model = azml_read_registered_model(client, model_id)
    if options.environment:
        azml_check_registered_environment(client, options.environment)
    code_path = options.code_path
    if options.code_in_model:
        code_path = azml_code_from_model(client, model, options.code_in_model, timeout_seconds)
        azml_check_code(code_path, options.scoring_script)
    return AzmlDeploymentState(
        endpoint=state["endpoint"], deployments=state["deployments"], traffic=state["traffic"],
        mirror=state["mirror"], model=model, code_path=code_path, target=target,
    )


def azml_plan_deployment(
    state: AzmlDeploymentState, model_id: str, deployment_name: str,
    options: AzmlDeploymentOptions, traffic_percent: int,
) -> AzmlDeploymentPlan:
    # Every write decided before the first one: the environment, whether the endpoint and the
    # deployment are new, and the traffic afterwards (checked against Azure's rules).
    code_path = state.code_path
    environment = azml_resolve_environment(
        code_path, options.conda_file, options.image, options.environment
    )
    model = state.model
    if (model.type or "").lower() != "mlflow_model":
        if not code_path:
            raise ValueError(
                f"code: model {model_id} is a {model.type}; it needs a code folder with a "
                "scoring script (only mlflow_model deploys without one)"
            )
        if not environment:
            raise ValueError(
                f"environment: model {model_id} is a {model.type}; give conda_file (with "
                "image) or a registered environment"
            )
    endpoint = state.endpoint
    kept = endpoint.auth_mode if endpoint is not None else ""
    if kept and kept.lower() != options.auth_mode.lower():
        print(f"Note: endpoint {endpoint.name!r} keeps its auth_mode {kept!r}")
    if endpoint is not None and options.identity_type:
        print(f"Note: endpoint {endpoint.name!r} keeps its managed identity (identity_type "
              "applies to a new endpoint)")
    names = [d.name for d in state.deployments]
    traffic = azml_plan_traffic(state.traffic, deployment_name, traffic_percent)
    mirror = {
        n: p
        for n, p in state.mirror.items()
        if not (n.lower() == deployment_name.lower() and traffic_percent > 0)
    }
    azml_check_traffic(traffic, mirror, names + [deployment_name])
    return AzmlDeploymentPlan(
        endpoint_changes=azml_endpoint_changes(endpoint, options) if endpoint else {},
        code_path=code_path,
        environment=environment,
        create_endpoint=endpoint is None,
        new_deployment=deployment_name.lower() not in {n.lower() for n in names},
        traffic=traffic,
        mirror=mirror,
        target=state.target,
    )


def azml_lineage_tags(lineage: Optional[dict]) -> dict:
    # The deployment's lineage tags (kfp_run_id, kfp_pipeline) from the KFP run's id and
    # pipeline name, as register_model tags a model; a placeholder KFP did not fill in (a
    # component default outside a pipeline) is no lineage. Checked with the inputs.
    fields = {"kfp_run_id": ("pipeline_run_id", 128), "kfp_pipeline": ("pipeline_name", 256)}
    tags = {}
    for key in azml_lineage_keys():
        field, limit = fields[key]
        value = azml_kfp_value(field, (lineage or {}).get(key, ""), limit)
        if value:
            tags[key] = value
    return tags


def azml_deployment_entity(
    endpoint_name: str, deployment_name: str, model_id: str, options: AzmlDeploymentOptions,
    plan: AzmlDeploymentPlan, lineage: Optional[dict] = None,
):
    # The Managed- or KubernetesOnlineDeployment to create or update, from the options and the
    # plan. lineage: {"kfp_run_id": ..., "kfp_pipeline": ...} as KFP filled them in (an unfilled
    # placeholder is left out), added to the deployment's tags.
    from azure.ai.ml.entities import CodeConfiguration, Environment

    deployment_class, kwargs = azml_deployment_class(plan.target["kind"], options)
    if plan.target["kind"] != "kubernetes":  # egress exists on managed deployments only
        kwargs["egress_public_network_access"] = options.egress_public_network_access
    lineage_tags = azml_lineage_tags(lineage)
    if plan.code_path:
        kwargs["code_configuration"] = CodeConfiguration(
            code=plan.code_path, scoring_script=options.scoring_script
        )
    environment = plan.environment
    if environment.get("environment"):
        kwargs["environment"] = environment["environment"]
    elif environment:
        kwargs["environment"] = Environment(
            image=environment.get("image"), conda_file=environment.get("conda_file")
        )
    return deployment_class(
        name=deployment_name,
        endpoint_name=endpoint_name,
        model=model_id,
        instance_type=plan.target["instance_type"],
        instance_count=options.instance_count,
        environment_variables=options.environment_variables or None,
        request_settings=azml_request_settings_entity(options.request_settings or {}),
        liveness_probe=azml_probe_entity(options.liveness_probe or {}),
        readiness_probe=azml_probe_entity(options.readiness_probe or {}),
        app_insights_enabled=options.app_insights_enabled,
        data_collector=azml_data_collector_entity(options.data_collector or {}),
        description=options.description or None,
        tags={**(options.tags or {}), **lineage_tags},
        **kwargs,
    )


def azml_asset_name_version(asset) -> tuple:
    # (name, version) of an asset given as azureml:NAME:VERSION, an ARM id
    # (.../NAME/versions/VERSION) or an entity; names compare case-insensitively in Azure.
    if asset is None:
        return ("", "")
    if not isinstance(asset, str):
        return (str(asset.name).lower(), str(asset.version))
    if asset.startswith("azureml:") and "/" not in asset:
        parts = asset[len("azureml:"):].split(":")
        return (parts[0].lower(), parts[1] if len(parts) > 1 else "")
    parts = asset.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-2].lower() == "versions":
        return (parts[-3].lower(), parts[-1])
    return (asset.lower(), "")


def azml_resources_of(deployment) -> dict:
    # A Kubernetes deployment's container requests and limits as plain strings (a managed
    # deployment has none): a change in either is a change of settings.
    resources = getattr(deployment, "resources", None)
    found = {}
    for side in ("requests", "limits"):
        settings = getattr(resources, side, None)
        values = {key: getattr(settings, key, None) for key in ("cpu", "memory", "gpu")}
        found[side] = {key: str(value) for key, value in values.items() if value not in (None, "")}
    return found


def azml_same_resources(live, deployment, target: dict) -> bool:
    # Whether the live deployment runs with the requests and limits `deployment` would give it,
    # compared by value (0.5 CPU is 500m). A deployment given none runs with its instance
    # type's (azml_resolve_target, target["instance_resources"]), which is what Azure then
    # reports for it; a live one that reports none is the same too.
    live_values = azml_resource_values(azml_resources_of(live))
    wanted = azml_resources_of(deployment)
    if any(wanted.values()):
        return live_values == azml_resource_values(wanted)
    instance = azml_resource_values(target.get("instance_resources") or wanted)
    return not any(live_values.values()) or live_values == instance


def azml_deployment_unchanged(
    client, state: AzmlDeploymentState, plan: AzmlDeploymentPlan, deployment
) -> bool:
    # True when the live deployment already is what `deployment` would make it and the traffic
    # plan changes nothing, so deploy_model can skip every write. Reads only. "Same code" is
    # the SDK's own identity for code: the content hash it stores on the code version it
    # uploads (property hash_sha256, get_content_hash; the SDK looks code up by it and reuses
    # it), compared with that hash of the local folder.
    if plan.create_endpoint or plan.new_deployment:
        return False
    if not azml_same_live_traffic(state.traffic, plan.traffic):
        return False
    if plan.mirror != state.mirror:
        return False
    live = next(
        d for d in state.deployments if d.name.lower() == deployment.name.lower()
    )
    if azml_enum_text(live.provisioning_state or "").lower() != "succeeded":
        return False
    same_settings = (
        azml_asset_name_version(live.model) == azml_asset_name_version(deployment.model)
        and (live.instance_type or "").lower() == deployment.instance_type.lower()
        and live.instance_count == deployment.instance_count
        and dict(live.environment_variables or {}) == dict(deployment.environment_variables or {})
        and azml_same_resources(live, deployment, plan.target)
        and azml_scale_settings_of(live) == azml_scale_settings_of(deployment)
        and azml_same_serving_settings(live, deployment)
        and azml_same_data_collector(live, deployment)
    )
    if not same_settings:
        return False
    wanted_env = deployment.environment
    if wanted_env is not None:
        if isinstance(wanted_env, str) and wanted_env.endswith("@latest"):
            name = wanted_env.split(":", 1)[-1].rsplit("@", 1)[0]
            wanted_env = azml_call(
                f"reading environment {name!r}", client.environments.get, name, label="latest"
            )
        if azml_asset_name_version(live.environment) != azml_asset_name_version(wanted_env):
            return False
    wanted_code, live_code = deployment.code_configuration, live.code_configuration
    if (wanted_code is None) != (live_code is None):
        return False
    if wanted_code is None:
        return True
    if wanted_code.scoring_script != live_code.scoring_script:
        return False
    from azure.ai.ml._utils._asset_utils import get_content_hash, get_ignore_file

    # The live code is an ARM id .../codes/NAME/versions/VERSION; MLClient has no public code
    # operations, so its own (client._code, pinned SDK) reads it.
    parts = str(live_code.code).rstrip("/").split("/")
    name, version = parts[-3], parts[-1]
    code = azml_call(f"reading code {name}:{version}", client._code.get, name, version)
    stored = (code.properties or {}).get("hash_sha256")
    return bool(stored) and stored == get_content_hash(
        wanted_code.code, get_ignore_file(wanted_code.code)
    )


def azml_apply_deployment(
    client, endpoint_name: str, deployment, options: AzmlDeploymentOptions,
    plan: AzmlDeploymentPlan, timeout_seconds: int,
) -> None:
    # The endpoint (when new), then the deployment, undone after a failure as
    # azml_write_deployment says; traffic is not touched yet.
    new_endpoint = None
    if plan.create_endpoint:
        new_endpoint = azml_new_endpoint(
            endpoint_name, options.auth_mode,
            {"created_by": "azml-components", **(options.endpoint_tags or {})},
            plan.target["compute"], options,
        )
    name = deployment.name
    autoscaled = bool(options.autoscale)
    azml_write_deployment(
        client.online_endpoints,
        client.online_deployments,
        endpoint_name,
        deployment,
        new_endpoint,
        plan.new_deployment,
        timeout_seconds,
        notes=["Traffic was not changed."],
        logs=lambda: azml_deployment_logs(client, endpoint_name, deployment.name),
        # The autoscale setting goes on once the deployment succeeded; an undo removes it first.
        then=(lambda: azml_apply_autoscale(client, endpoint_name, name, options.autoscale))
        if autoscaled else None,
        before_delete=(lambda: azml_remove_autoscale(
            client, azml_online_deployment_id(client, endpoint_name, name)
        )) if autoscaled else None,
    )


def azml_apply_traffic(
    client, endpoint_name: str, plan: AzmlDeploymentPlan, state: AzmlDeploymentState,
    timeout_seconds: int,
) -> None:
    # Traffic moves only once the deployment is ready; a failed move puts the previous
    # traffic back. The endpoint's changed settings (plan.endpoint_changes) go with it.
    import copy

    endpoint = azml_call(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    current, _ = azml_traffic_of(endpoint)
    changes = plan.endpoint_changes or {}
    same = azml_same_live_traffic(current, plan.traffic) and plan.mirror == state.mirror
    if same and not changes:
        return
    before = copy.deepcopy(endpoint)
    for attribute, value in changes.items():
        if attribute == "tags":  # added to the tags as they are now (a rollout's renewed)
            value = {**(endpoint.tags or {}), **value}
        setattr(endpoint, attribute, value)
    try:
        azml_set_traffic(client, endpoint, plan.traffic, plan.mirror, timeout_seconds)
    except BaseException as error:
        restore = (
            f"restoring traffic {state.traffic}",
            lambda: azml_set_traffic(
                client, before, state.traffic, state.mirror, timeout_seconds
            ),
        )
        azml_undo_and_raise(
            error, [str(error)], [restore], azml_cleanup_seconds(error, timeout_seconds)
        )


def azml_deploy_model(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    options=None,
    traffic_percent: int = 100,
    timeout_seconds: int = 3600,
    client=None,
    lineage: Optional[dict] = None,
) -> dict:
    # Create the endpoint if needed, create or update the deployment, then move traffic. Traffic
    # moves only after the deployment succeeded, so a failed new deployment never takes traffic
    # from a working one; a failed new deployment (and an endpoint this call created) is deleted.
    # options: see azml_deployment_options. client: the run's one MLClient (azml_ml_client);
    # one is made from the workspace arguments when None. lineage: see azml_deployment_entity.
    options = azml_check_deployment_inputs(
        endpoint_name, deployment_name, model_id, options, timeout_seconds
    )
    azml_check_range("traffic_percent", traffic_percent, 0, 100)
    azml_lineage_tags(lineage)
    if client is None:
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    # A safe_rollout that crashed on this endpoint is undone first (one whose run still lives
    # is refused, naming it).
    azml_recover_rollout(client, endpoint_name, "", timeout_seconds)
    state = azml_read_deployment_state(client, endpoint_name, model_id, options, timeout_seconds)
    return azml_deploy_from_state(
        client, endpoint_name, deployment_name, model_id, options, state, traffic_percent,
        timeout_seconds, lineage,
    )


def azml_deploy_from_state(
    client, endpoint_name: str, deployment_name: str, model_id: str,
    options: AzmlDeploymentOptions, state: AzmlDeploymentState, traffic_percent: int,
    timeout_seconds: int, lineage: Optional[dict] = None,
) -> dict:
    # Plan and apply a deployment whose inputs were checked and whose workspace state was read
    # (azml_read_deployment_state) by the caller: deploy_model, or safe_rollout inside its
    # recorded rollout (traffic_percent 0).
    plan = azml_plan_deployment(state, model_id, deployment_name, options, traffic_percent)
    deployment = azml_deployment_entity(
        endpoint_name, deployment_name, model_id, options, plan, lineage
    )
    same_deployment = azml_deployment_unchanged(client, state, plan, deployment)
    unchanged = same_deployment and not plan.endpoint_changes
    if unchanged:
        # The live deployment and traffic already are what was asked: nothing to write.
        endpoint = state.endpoint
        created = next(d for d in state.deployments if d.name.lower() == deployment_name.lower())
        # Only a changed autoscale setting is written (none asked: left as it is).
        unchanged = not azml_apply_autoscale(
            client, endpoint_name, created.name, options.autoscale
        )
    else:
        if not same_deployment:
            azml_apply_deployment(client, endpoint_name, deployment, options, plan,
                                  timeout_seconds)
        else:  # only the endpoint's settings changed: the deployment is not written
            azml_apply_autoscale(client, endpoint_name, deployment_name, options.autoscale)
        azml_apply_traffic(client, endpoint_name, plan, state, timeout_seconds)
        endpoint, created = azml_read_deployment_back(
            client.online_endpoints, client.online_deployments, endpoint_name, deployment_name
        )
    traffic, mirror_traffic = azml_traffic_of(endpoint)
    return {
        "endpoint_name": endpoint.name,
        "deployment_name": created.name,
        "scoring_uri": endpoint.scoring_uri,
        "swagger_uri": endpoint.openapi_uri or "",
        "auth_mode": endpoint.auth_mode,
        "traffic": traffic,
        "mirror_traffic": mirror_traffic,
        "previous_traffic": state.traffic,
        "endpoint_id": endpoint.id,
        "deployment_id": created.id,
        "model_id": model_id,
        "model_type": state.model.type,
        "created_endpoint": plan.create_endpoint,
        "unchanged": unchanged,
        "endpoint_kind": plan.target["kind"],
        "compute": plan.target["compute"],
        "instance_type": created.instance_type or "",
        "autoscale_setting": azml_autoscale_setting_name(endpoint.name, created.name)
        if options.autoscale else "",
        "endpoint_identity": azml_enum_text(getattr(endpoint.identity, "type", "") or ""),
        "endpoint_principal_id": getattr(endpoint.identity, "principal_id", None) or "",
        "studio_url": azml_studio_url(
            client.subscription_id, client.resource_group_name, client.workspace_name,
            "endpoint", endpoint.name,
        ),
    }
