"""The deploy_model component."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.deployment_options import azml_deployment_options_of
from azml_components.runtime.inputs import azml_model_id_input
from azml_components.runtime.report import azml_write_report
from azml_components.runtime.targets import azml_target_label


@azure_component
def deploy_model(
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
    traffic_percent: int = 100,
    subscription_id: str = "",
    timeout_seconds: int = 3600,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_name: str = dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("scoring_uri", str)]):
    """Deploy a registered model to an Azure ML online endpoint, managed or Kubernetes.

    Creates the endpoint if it does not exist, creates or updates the deployment and waits for
    it, then gives it ``traffic_percent`` of the endpoint's traffic (the other deployments keep
    their proportions of the rest). Traffic moves only after the deployment succeeded: a failed
    new deployment is deleted (with its logs in the error) and never takes traffic from a working
    one. MLflow models deploy without code or environment (no-code); custom models need a code
    folder with a scoring script (init()/run()) and an environment. Keys are never written to
    outputs. A ``safe_rollout`` left unfinished on the endpoint (its pod was killed) is undone
    first; one whose run is still alive makes the task fail, naming that run. When the live
    deployment already runs this model, code (the SDK's content hash of the folder), environment
    and settings (on Kubernetes: instance type, resource requests and limits; the serving
    settings, a setting not given being Azure's default), the endpoint's given settings are
    already its own, and the traffic would not change, nothing is written and the endpoint's
    metadata says ``unchanged: true``. A change of the endpoint's settings alone writes only
    the endpoint. The deployment's tags record the KFP run that last wrote it (``kfp_run_id``,
    ``kfp_pipeline``); another run with the same settings leaves them as they are.

    Args:
        endpoint_name: Online endpoint name (3-32 characters: a letter, then letters, digits or
            hyphens); unique in the Azure region.
        deployment_name: Deployment name under the endpoint (same rule).
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
        traffic_percent: Share of live traffic (0-100) the deployment gets once it is ready.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long each long-running operation may take.
        pipeline_run_id: KFP run id recorded in the deployment's tag kfp_run_id (filled in by
            KFP).
        pipeline_name: KFP pipeline job name recorded in the tag kfp_pipeline (filled in by
            KFP).

    Returns:
        endpoint: The endpoint; its metadata carries endpoint_name, deployment_name,
            scoring_uri, swagger_uri, auth_mode, traffic, mirror_traffic, previous_traffic,
            endpoint_id, deployment_id, model_id, endpoint_kind (managed or kubernetes),
            compute (the Kubernetes compute, empty when managed), instance_type, unchanged
            (nothing was written), autoscale_setting (its name, empty without autoscale),
            endpoint_identity, endpoint_principal_id (a system-assigned identity's) and
            studio_url (Azure ML studio link).
        report: Markdown report: endpoint, its kind and compute, scoring URI, traffic before
            and after, the model and Azure ML studio links.
        scoring_uri: The endpoint's scoring URI.

    """
    inputs = dict(locals())  # every input as KFP passed it, before any other name is bound
    from collections import namedtuple

    model_id = azml_model_id_input(registered_model, model_id)
    options = azml_deployment_options_of(inputs)
    result = azml_deploy_model(
        subscription_id, resource_group, workspace_name, endpoint_name, deployment_name,
        model_id, options, traffic_percent=traffic_percent, timeout_seconds=timeout_seconds,
        lineage={"kfp_run_id": pipeline_run_id, "kfp_pipeline": pipeline_name},
    )
    # The uri stays the storage URI KFP assigned (the KFP launcher accepts no https URI on the
    # next task's inputs); the studio link is metadata.
    endpoint.metadata.update(result)
    azml_write_report(
        report.path,
        f"Deployment {deployment_name} on {endpoint_name}",
        {
            "endpoint": result["endpoint_name"],
            "kind": azml_target_label(result["endpoint_kind"], result["compute"]),
            "instance type": result["instance_type"],
            "scoring URI": result["scoring_uri"],
            "model": model_id,
            "endpoint created by this run": result["created_endpoint"],
            "unchanged (nothing written)": result["unchanged"],
            "endpoint in studio": result["studio_url"],
        },
        result["previous_traffic"],
        result["traffic"],
        {deployment_name: model_id},
        [],
    )
    verb = "Unchanged (already live, nothing written):" if result["unchanged"] else "Deployed"
    print(
        f"{verb} {model_id} as {result['endpoint_name']}/{result['deployment_name']}; "
        f"traffic {result['traffic']}; scoring URI {result['scoring_uri']}"
    )
    outputs = namedtuple("Outputs", ["scoring_uri"])
    return outputs(result["scoring_uri"])
