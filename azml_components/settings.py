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
            "Endpoint authentication for a new endpoint: key or aml_token."),
    Setting("environment_variables", "dict", "{}",
            "Extra environment variables for the scoring container."),
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
