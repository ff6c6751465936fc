"""Every shared component input, declared once: its name, type, default and the KFP UI's text.

The component modules' signatures and ``Args:`` docstring entries, the runtime's options record
(AzmlDeploymentOptions) and the options function's signature are generated from this file by
``python -m tools.generate_settings`` (``nox -s compile``); a test fails when a generated part
differs. Adding a deployment setting is one entry here (in the group that takes it) plus the
runtime code that applies it.

Each group is a list of settings; a component or runtime function takes a group between the
marker comments ``# <settings: GROUP>`` and ``# </settings>``. Components hand their deployment
settings on as ``azml_deployment_options_of(locals())``, by name.
"""

from typing import NamedTuple


class Setting(NamedTuple):
    """One component input shared by several components.

    Attributes:
        name: The input's name in every component that takes it.
        annotation: Its type in the component signature, as source text.
        default: Its default as source text; empty for a required input.
        doc: Its ``Args:`` text (the KFP UI's description); wrapped by the generator.
        runtime: The runtime parameter, as source text (``NAME: TYPE = DEFAULT``); empty for
            the input's own name, type and default (a dict or list default becomes None).
    """

    name: str
    annotation: str
    default: str
    doc: str
    runtime: str = ""


WORKSPACE = [
    Setting("resource_group", "str", "", "Resource group of the Azure ML workspace."),
    Setting("workspace_name", "str", "", "Name of the Azure ML workspace."),
]

SUBSCRIPTION = [
    Setting("subscription_id", "str", '""',
            "Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds."),
]

MODEL = [
    Setting("registered_model", "Optional[dsl.Input[dsl.Model]]", "None",
            "The registered_model output of register_model. Give this or model_id."),
    Setting("model_id", "str", '""',
            "A registered model as azureml:NAME:VERSION or its ARM id. Give this or "
            "registered_model."),
]

# The deployment deploy_model and safe_rollout create (runtime: azml_deployment_options, which
# checks them, and AzmlDeploymentOptions, the record it returns).
ONLINE_DEPLOYMENT = [
    Setting("code", "Optional[dsl.Input[dsl.Artifact]]", "None",
            "Folder holding the scoring script and anything it imports (custom models).",
            runtime='code_path: str = ""'),
    Setting("code_in_model", "str", '""',
            "Instead of code: a folder inside the registered model that holds the scoring "
            'script (the model is downloaded to read it), e.g. "code".'),
    Setting("scoring_script", "str", '"score.py"',
            "File name of the scoring script inside the code folder."),
    Setting("conda_file", "str", '""',
            "Conda environment for the deployment: YAML content, or the name of a .yml file "
            "inside the code folder."),
    Setting("image", "str", '""',
            "Base image for the conda environment (default: Azure ML's Ubuntu 22.04 image)."),
    Setting("environment", "str", '""',
            "A registered environment (azureml:NAME:VERSION) instead of conda_file."),
    Setting("compute", "str", '""',
            "Empty for a managed online endpoint; or the name of a Kubernetes compute attached "
            "to the workspace (AKS or Arc cluster with the Azure ML extension) to serve on as a "
            "Kubernetes online endpoint. An existing endpoint keeps its kind and compute."),
    Setting("instance_type", "str", '""',
            "Managed: a VM size (default Standard_DS3_v2). Kubernetes: one of the cluster's "
            "instance types (default: the cluster's default instance type)."),
    Setting("instance_count", "int", "1", "Number of instances (at least 1)."),
    Setting("resource_requests", "dict", "{}",
            'Kubernetes only: container resource requests, e.g. {"cpu": "500m", "memory": '
            '"1Gi"} (keys cpu, memory, gpu), each at most its limit.'),
    Setting("resource_limits", "dict", "{}",
            "Kubernetes only: container resource limits (same keys)."),
    Setting("auth_mode", "str", '"key"',
            "Endpoint authentication for a new endpoint: key or aml_token, in any case the "
            "SDK's YAML accepts (Key, AMLToken). An existing endpoint keeps its own."),
    Setting("environment_variables", "dict", "{}",
            "Extra environment variables for the scoring container."),
    # Issue 21's serving settings (checked in runtime/deployment_settings.py, which cites
    # Azure's defaults and ranges). Dict inputs take the keys of Microsoft's deployment YAML.
    Setting("request_settings", "dict", "{}",
            'Scoring request settings as in Microsoft\'s deployment YAML, e.g. '
            '{"request_timeout_ms": 90000, "max_concurrent_requests_per_instance": 4}. Keys: '
            "request_timeout_ms (Azure default 5000, at most 180000), "
            "max_concurrent_requests_per_instance (default 1), max_queue_wait_ms (deprecated, "
            "default 500). A key left out is Azure's default."),
    Setting("liveness_probe", "dict", "{}",
            'Liveness probe as in the deployment YAML, e.g. {"initial_delay": 30}. Keys (each '
            "at least 1): initial_delay (seconds, default 10), period (10), timeout (2), "
            "success_threshold (fixed at 1), failure_threshold (30)."),
    Setting("readiness_probe", "dict", "{}",
            "Readiness probe, same keys and defaults (success_threshold may exceed 1)."),
    Setting("app_insights_enabled", "bool", "False",
            "Send the deployment's logs and metrics to the workspace's Application Insights."),
    Setting("egress_public_network_access", "str", '"enabled"',
            "Managed deployments: enabled or disabled (legacy network isolation: the "
            "deployment reaches its model, code and images through private endpoints only)."),
    Setting("description", "str", '""', "Description of the deployment."),
    Setting("tags", "dict", "{}",
            "Tags of the deployment; kfp_run_id and kfp_pipeline (the run that last wrote it) "
            "are added."),
    Setting("endpoint_description", "str", '""',
            "Description of the endpoint; empty keeps an existing endpoint's."),
    Setting("endpoint_tags", "dict", "{}",
            "Tags to add to or change on the endpoint (its other tags are kept)."),
    Setting("public_network_access", "str", '""',
            "Managed endpoints: enabled or disabled (scoring from the internet, or through a "
            "private endpoint only); empty keeps an existing endpoint's (a new one: enabled)."),
    # Scale and endpoint identity (issue 21, items 3 and 5).
    Setting("autoscale", "dict", "{}",
            "Managed only: an Azure Monitor autoscale setting on the deployment, e.g. "
            '{"min_instances": 1, "max_instances": 5, "default_instances": 1, "rules": '
            '[{"metric": "CpuUtilizationPercentage", "operator": "GreaterThan", "threshold": '
            '70, "direction": "Increase", "change": 1, "cooldown": "PT5M"}]}; a rule may also '
            "give time_window (default PT5M), time_grain (PT1M), statistic (Average) and "
            "time_aggregation (Average). Empty leaves the deployment's autoscale as it is; "
            "the setting is deleted with the deployment."),
    Setting("scale_settings", "dict", "{}",
            "Kubernetes only: the deployment's scale_settings as in its YAML, e.g. "
            '{"type": "target_utilization", "min_instances": 1, "max_instances": 3, '
            '"polling_interval": 10, "target_utilization_percentage": 70}; empty means '
            "Azure's default (a fixed instance_count)."),
    Setting("identity_type", "str", '""',
            "Managed identity of a new endpoint: system_assigned or user_assigned; empty is "
            "Azure's default (system_assigned)."),
    Setting("user_assigned_identities", "list", "[]",
            "With identity_type user_assigned: the ARM ids of the user-assigned managed "
            "identities the endpoint uses (/subscriptions/.../providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/NAME)."),
    # Issue 22: data collection (checked in runtime/data_collection.py, which cites Azure's
    # rules); the keys of Microsoft's deployment YAML.
    Setting("data_collector", "dict", "{}",
            "Azure ML data collection, as data_collector in Microsoft's deployment YAML, e.g. "
            '{"collections": {"model_inputs": {"enabled": "True"}, "model_outputs": '
            '{"enabled": "True"}}, "sampling_rate": 1.0, "rolling_rate": "Hour"}. Collections '
            "model_inputs, model_outputs or any name are logged by the scoring script with "
            "azureml-ai-monitoring's Collector (MLflow models without a scoring script collect "
            "model_inputs and model_outputs on their own); request and response log the HTTP "
            "payloads, with request_logging: {\"capture_headers\": [...]}. A collection may name "
            'its data asset: "data": {"name", "path", "version"}. sampling_rate is 0.0-1.0 '
            "(default 1.0); rolling_rate Minute, Hour (default), Day, Month or Year. Empty: "
            "no data collection."),
]

# The smoke test of invoke_endpoint and of each safe_rollout step (runtime: azml_check_request).
SMOKE_TEST = [
    Setting("payload", "str", '""',
            "The JSON request body (the scoring script's input). Give this or payload_file."),
    Setting("payload_file", "Optional[dsl.Input[dsl.Dataset]]", "None",
            "A Dataset artifact holding the JSON request body (a file)."),
    Setting("expected_status", "int", "200",
            "HTTP status every answer must have: the model's own (a managed endpoint's 424 "
            "carries it in ms-azureml-model-error-statuscode)."),
    Setting("expect_prediction_per_row", "bool", "True",
            "Require one prediction per input row (rows are counted in input_data, data, "
            "inputs or instances, or a top-level list)."),
    Setting("json_schema", "str", '""',
            "A JSON schema (draft 2020-12) every answer must match; empty skips it."),
    Setting("max_latency_ms", "int", "0",
            "Upper bound for each call's wall time in milliseconds (0 = no bound); it includes "
            "the key lookup the SDK makes."),
]

GROUPS = {
    "workspace": WORKSPACE,
    "subscription": SUBSCRIPTION,
    "model": MODEL,
    "online_deployment": ONLINE_DEPLOYMENT,
    "smoke_test": SMOKE_TEST,
}
