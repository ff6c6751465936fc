"""The safe_rollout component: blue/green with smoke tests and automatic rollback."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.deployment_options import azml_deployment_options_of
from azml_components.runtime.inputs import azml_model_id_input, azml_payload_input
from azml_components.runtime.report import azml_write_report
from azml_components.runtime.rollout import azml_safe_rollout
from azml_components.runtime.targets import azml_target_label


@azure_component
def safe_rollout(
    endpoint_name: str,
    deployment_name: str,
    resource_group: str,
    workspace_name: str,
    endpoint: dsl.Output[dsl.Artifact],
    report: dsl.Output[dsl.Markdown],
    # <settings: model>
    registered_model: Optional[dsl.Input[dsl.Model]] = None,
    model_id: str = "",
    # </settings>
    # <settings: online_deployment>
    code: Optional[dsl.Input[dsl.Artifact]] = None,
    code_in_model: str = "",
    scoring_script: str = "score.py",
    conda_file: str = "",
    image: str = "",
    environment: str = "",
    compute: str = "",
    instance_type: str = "",
    instance_count: int = 1,
    resource_requests: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    resource_limits: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    auth_mode: str = "key",
    environment_variables: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    request_settings: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    liveness_probe: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    readiness_probe: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    app_insights_enabled: bool = False,
    egress_public_network_access: str = "enabled",
    description: str = "",
    tags: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    endpoint_description: str = "",
    endpoint_tags: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    public_network_access: str = "",
    autoscale: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    scale_settings: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    identity_type: str = "",
    user_assigned_identities: list = [],  # noqa: B006 - KFP reads defaults; never mutated
    data_collector: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    # </settings>
    # <settings: smoke_test>
    payload: str = "",
    payload_file: Optional[dsl.Input[dsl.Dataset]] = None,
    expected_status: int = 200,
    expect_prediction_per_row: bool = True,
    json_schema: str = "",
    max_latency_ms: int = 0,
    # </settings>
    traffic_steps: list = [10, 50, 100],  # noqa: B006 - KFP reads defaults; never mutated
    mirror_percent: int = 0,
    remove_old: bool = False,
    subscription_id: str = "",
    timeout_seconds: int = 3600,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_name: str = dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("scoring_uri", str)]):
    """Roll a new model out to an online endpoint in steps, rolling back on any failure.

    Deploys the model as a new deployment with 0% traffic, smoke-tests it directly, optionally
    mirrors a share of live traffic to it, then shifts live traffic in ``traffic_steps`` (the
    old deployments keep their proportions of the rest) with a smoke test of the new deployment
    and of the endpoint after each step. When anything fails, or the run is cancelled
    (SIGTERM), the previous live and mirror traffic are restored exactly, the new deployment is
    deleted and the task fails with the reason. On success the old deployments are deleted if
    ``remove_old``.

    Crash-safe: before changing anything the rollout records itself on the endpoint (tags
    ``azml-rollout-*``: the new deployment, the live and mirror traffic before it, whether it
    created the endpoint, the owning run and until when that run counts as alive), renews the
    record in each traffic change and removes it at the end. If the pod is killed (a cancelled
    run on a KFP cluster, a lost node), the next ``safe_rollout`` or ``deploy_model`` on the
    endpoint, or a ``recover_rollout`` exit task, restores that traffic and deletes the
    half-made deployment. An unfinished rollout of another run that has not expired is refused,
    naming that run.

    Args:
        endpoint_name: Online endpoint to roll out to (created if missing).
        deployment_name: Name of the new deployment; it must not exist yet.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        registered_model: The registered_model output of register_model. Give this or model_id.
        model_id: A registered model as azureml:NAME:VERSION or its ARM id. Give this or
            registered_model.
        code: Folder holding the scoring script and anything it imports (custom models).
        code_in_model: Instead of code: a folder inside the registered model that holds the scoring
            script (the model is downloaded to read it), e.g. "code".
        scoring_script: File name of the scoring script inside the code folder.
        conda_file: Conda environment for the deployment: YAML content, or the name of a .yml file
            inside the code folder.
        image: Base image for the conda environment (default: Azure ML's Ubuntu 22.04 image).
        environment: A registered environment (azureml:NAME:VERSION) instead of conda_file.
        compute: Empty for a managed online endpoint; or the name of a Kubernetes compute attached
            to the workspace (AKS or Arc cluster with the Azure ML extension) to serve on as a
            Kubernetes online endpoint. An existing endpoint keeps its kind and compute.
        instance_type: Managed: a VM size (default Standard_DS3_v2). Kubernetes: one of the
            cluster's instance types (default: the cluster's default instance type).
        instance_count: Number of instances (at least 1).
        resource_requests: Kubernetes only: container resource requests, e.g. {"cpu": "500m",
            "memory": "1Gi"} (keys cpu, memory, gpu), each at most its limit.
        resource_limits: Kubernetes only: container resource limits (same keys).
        auth_mode: Endpoint authentication for a new endpoint: key or aml_token, in any case the
            SDK's YAML accepts (Key, AMLToken). An existing endpoint keeps its own.
        environment_variables: Extra environment variables for the scoring container.
        request_settings: Scoring request settings as in Microsoft's deployment YAML, e.g.
            {"request_timeout_ms": 90000, "max_concurrent_requests_per_instance": 4}. Keys:
            request_timeout_ms (Azure default 5000, at most 180000),
            max_concurrent_requests_per_instance (default 1), max_queue_wait_ms (deprecated, default
            500). A key left out is Azure's default.
        liveness_probe: Liveness probe as in the deployment YAML, e.g. {"initial_delay": 30}. Keys
            (each at least 1): initial_delay (seconds, default 10), period (10), timeout (2),
            success_threshold (fixed at 1), failure_threshold (30).
        readiness_probe: Readiness probe, same keys and defaults (success_threshold may exceed 1).
        app_insights_enabled: Send the deployment's logs and metrics to the workspace's Application
            Insights.
        egress_public_network_access: Managed deployments: enabled or disabled (legacy network
            isolation: the deployment reaches its model, code and images through private endpoints
            only).
        description: Description of the deployment.
        tags: Tags of the deployment; kfp_run_id and kfp_pipeline (the run that last wrote it) are
            added.
        endpoint_description: Description of the endpoint; empty keeps an existing endpoint's.
        endpoint_tags: Tags to add to or change on the endpoint (its other tags are kept).
        public_network_access: Managed endpoints: enabled or disabled (scoring from the internet, or
            through a private endpoint only); empty keeps an existing endpoint's (a new one:
            enabled).
        autoscale: Managed only: an Azure Monitor autoscale setting on the deployment, e.g.
            {"min_instances": 1, "max_instances": 5, "default_instances": 1, "rules": [{"metric":
            "CpuUtilizationPercentage", "operator": "GreaterThan", "threshold": 70, "direction":
            "Increase", "change": 1, "cooldown": "PT5M"}]}; a rule may also give time_window
            (default PT5M), time_grain (PT1M), statistic (Average) and time_aggregation (Average).
            Empty leaves the deployment's autoscale as it is; the setting is deleted with the
            deployment.
        scale_settings: Kubernetes only: the deployment's scale_settings as in its YAML, e.g.
            {"type": "target_utilization", "min_instances": 1, "max_instances": 3,
            "polling_interval": 10, "target_utilization_percentage": 70}; empty means Azure's
            default (a fixed instance_count).
        identity_type: Managed identity of a new endpoint: system_assigned or user_assigned; empty
            is Azure's default (system_assigned).
        user_assigned_identities: With identity_type user_assigned: the ARM ids of the user-assigned
            managed identities the endpoint uses
            (/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME).
        data_collector: Azure ML data collection, as data_collector in Microsoft's deployment YAML,
            e.g. {"collections": {"model_inputs": {"enabled": "True"}, "model_outputs": {"enabled":
            "True"}}, "sampling_rate": 1.0, "rolling_rate": "Hour"}. Collections model_inputs,
            model_outputs or any name are logged by the scoring script with azureml-ai-monitoring's
            Collector (MLflow models without a scoring script collect model_inputs and model_outputs
            on their own); request and response log the HTTP payloads, with request_logging:
            {"capture_headers": [...]}. A collection may name its data asset: "data": {"name",
            "path", "version"}. sampling_rate is 0.0-1.0 (default 1.0); rolling_rate Minute, Hour
            (default), Day, Month or Year. Empty: no data collection.
        payload: The JSON request body (the scoring script's input). Give this or payload_file.
        payload_file: A Dataset artifact holding the JSON request body (a file).
        traffic_steps: Live traffic shares for the new deployment, rising and ending at 100.
        mirror_percent: Share of live traffic (0-50) mirrored to the new deployment before
            the shift starts; 0 skips mirroring. Managed endpoints only (Azure does not mirror
            on Kubernetes online endpoints).
        expected_status: HTTP status every answer must have: the model's own (a managed endpoint's
            424 carries it in ms-azureml-model-error-statuscode).
        expect_prediction_per_row: Require one prediction per input row (rows are counted in
            input_data, data, inputs or instances, or a top-level list).
        json_schema: A JSON schema (draft 2020-12) every answer must match; empty skips it.
        max_latency_ms: Upper bound for each call's wall time in milliseconds (0 = no bound); it
            includes the key lookup the SDK makes.
        remove_old: Delete the deployments that had traffic before, once the rollout is done.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long each long-running operation may take. Another run treats
            this rollout as alive for three times this long after its last write.
        pipeline_run_id: KFP run that owns the rollout (pass dsl.PIPELINE_JOB_ID_PLACEHOLDER;
            the run's recover_rollout exit task then undoes what this task left unfinished);
            recorded in the new deployment's tag kfp_run_id.
        pipeline_name: KFP pipeline job name recorded in the new deployment's tag
            kfp_pipeline (filled in by KFP).

    Returns:
        endpoint: The endpoint; metadata carries endpoint_name, traffic_before, traffic,
            mirror_traffic, scoring_uri, studio_url, endpoint_kind (managed or kubernetes),
            compute, instance_type, removed deployments, the steps taken,
            rollout_owner and recovered (what an earlier unfinished rollout needed undone).
        report: Markdown report: endpoint, its kind and compute, scoring URI, traffic before
            and after per deployment with its model, the steps, and Azure ML studio links.
        scoring_uri: The endpoint's scoring URI.

    """
    inputs = dict(locals())  # every input as KFP passed it, before any other name is bound
    from collections import namedtuple

    model_id = azml_model_id_input(registered_model, model_id)
    payload = azml_payload_input(payload, payload_file)
    options = azml_deployment_options_of(inputs)
    result = azml_safe_rollout(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        deployment_name=deployment_name,
        model_id=model_id,
        payload=payload,
        options=options,
        traffic_steps=traffic_steps,
        mirror_percent=mirror_percent,
        expected_status=expected_status,
        expect_prediction_per_row=expect_prediction_per_row,
        json_schema=json_schema,
        max_latency_ms=max_latency_ms,
        remove_old=remove_old,
        timeout_seconds=timeout_seconds,
        pipeline_run_id=pipeline_run_id,
        lineage={"kfp_run_id": pipeline_run_id, "kfp_pipeline": pipeline_name},
    )
    # The uri stays the storage URI KFP assigned; the studio link is metadata.
    endpoint.metadata.update(result)
    azml_write_report(
        report.path,
        f"Rollout of {deployment_name} to {endpoint_name}",
        {
            "endpoint": endpoint_name,
            "kind": azml_target_label(result["endpoint_kind"], result["compute"]),
            "scoring URI": result["scoring_uri"],
            "new model": model_id,
            "removed deployments": ", ".join(result["removed"]) or "none",
            "endpoint in studio": result["studio_url"],
        },
        result["traffic_before"],
        result["traffic"],
        result["models"],
        result["steps"],
    )
    print("\n".join(result["steps"]))
    outputs = namedtuple("Outputs", ["scoring_uri"])
    return outputs(result["scoring_uri"])
