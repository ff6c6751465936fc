# The options of the deployment that deploy_model and safe_rollout create (code, scoring script,
# environment, target compute, instance type and count, resources, auth mode, environment
# variables), declared once in azml_components/settings.py: one AzmlDeploymentOptions record,
# built and checked by azml_deployment_options before any call to Azure.
from typing import Optional

from azml_components.runtime.autoscale import azml_check_autoscale
from azml_components.runtime.data_collection import azml_check_data_collector
from azml_components.runtime.deployment_settings import (
    azml_check_auth_mode,
    azml_check_network_access,
    azml_check_probe,
    azml_check_request_settings,
    azml_check_tag_map,
    azml_lineage_keys,
)
from azml_components.runtime.records import AzmlDeploymentOptions
from azml_components.runtime.targets import (
    azml_check_identity,
    azml_check_scale_settings,
    azml_check_target,
)
from azml_components.runtime.validation import (
    azml_check_range,
    azml_string_map,
)


def azml_deployment_options(
    # <settings: online_deployment>
    code_path: str = "",
    code_in_model: str = "",
    scoring_script: str = "score.py",
    conda_file: str = "",
    image: str = "",
    environment: str = "",
    compute: str = "",
    instance_type: str = "",
    instance_count: int = 1,
    resource_requests: Optional[dict] = None,
    resource_limits: Optional[dict] = None,
    auth_mode: str = "key",
    environment_variables: Optional[dict] = None,
    request_settings: Optional[dict] = None,
    liveness_probe: Optional[dict] = None,
    readiness_probe: Optional[dict] = None,
    app_insights_enabled: bool = False,
    egress_public_network_access: str = "enabled",
    description: str = "",
    tags: Optional[dict] = None,
    endpoint_description: str = "",
    endpoint_tags: Optional[dict] = None,
    public_network_access: str = "",
    autoscale: Optional[dict] = None,
    scale_settings: Optional[dict] = None,
    identity_type: str = "",
    user_assigned_identities: Optional[list] = None,
    data_collector: Optional[dict] = None,
    # </settings>
) -> AzmlDeploymentOptions:
    # The options of the deployment deploy_model and safe_rollout create, checked here, before
    # any call to Azure. Both take them as `options` (this record, or a dict of its fields) and
    # pass them through this function again, so options built by hand meet the same rules. The
    # scoring script is only read with code: a folder (code_path) or a folder inside the
    # registered model (code_in_model, whose conda file is read once the model is downloaded).
    given = dict(locals())  # every setting, as azml_components/settings.py declares them
    import os

    azml_check_range("instance_count", instance_count, 1)
    # compute empty: managed (instance_type a VM size, default Standard_DS3_v2); else the
    # Kubernetes compute's instance type (default: the cluster's) and optional resources.
    target = azml_check_target(compute, instance_type, resource_requests, resource_limits)
    serving = azml_check_serving_options(given, target["compute"])
    variables = azml_string_map("environment_variables", environment_variables)
    scale = azml_check_scale_settings(scale_settings, target["compute"])
    autoscaled = azml_check_autoscale(autoscale, target["compute"])
    identities = azml_check_identity(identity_type, user_assigned_identities)
    if code_in_model:
        if code_path:
            raise ValueError("code / code_in_model: give at most one")
        if not scoring_script:
            raise ValueError("scoring_script: required with code_in_model")
        if os.path.isabs(code_in_model) or ".." in code_in_model.split("/"):
            raise ValueError(f"code_in_model: {code_in_model!r} must be a relative folder")
    else:
        scoring_script = scoring_script if code_path else ""
        azml_check_code(code_path, scoring_script)
        azml_resolve_environment(code_path, conda_file, image, environment)
    checked = {
        **given,
        "scoring_script": scoring_script,
        "compute": target["compute"],
        "instance_type": target["instance_type"],
        "resource_requests": target["resource_requests"],
        "resource_limits": target["resource_limits"],
        "environment_variables": variables,
        **serving,
        "autoscale": autoscaled,
        "scale_settings": scale,
        "user_assigned_identities": identities,
    }
    return AzmlDeploymentOptions(**checked)


def azml_check_serving_options(given: dict, compute: str) -> dict:
    # The serving settings among the options (see deployment_settings), checked: each error
    # names its field and Azure's rule.
    if not isinstance(given["app_insights_enabled"], bool):
        raise ValueError(f"app_insights_enabled: {given['app_insights_enabled']!r} must be "
                         "true or false")
    for field in ("description", "endpoint_description"):
        if not isinstance(given[field], str):
            raise ValueError(f"{field}: {given[field]!r} must be a string")
    return {
        "auth_mode": azml_check_auth_mode(given["auth_mode"]),
        "request_settings": azml_check_request_settings(given["request_settings"]),
        "data_collector": azml_check_data_collector(given["data_collector"]),
        "liveness_probe": azml_check_probe("liveness_probe", given["liveness_probe"]),
        "readiness_probe": azml_check_probe("readiness_probe", given["readiness_probe"]),
        "egress_public_network_access": azml_check_network_access(
            "egress_public_network_access", given["egress_public_network_access"], compute,
            "enabled",
        ),
        "public_network_access": azml_check_network_access(
            "public_network_access", given["public_network_access"], compute, ""
        ),
        "tags": azml_check_tag_map("tags", given["tags"], azml_lineage_keys()),
        "endpoint_tags": azml_check_tag_map("endpoint_tags", given["endpoint_tags"],
                                            ("created_by",)),
    }


def azml_deployment_options_of(inputs: dict) -> AzmlDeploymentOptions:
    # The deployment settings among a component's inputs (its locals() as KFP called it), by
    # the record's field names, the code artifact's folder as code_path; checked.
    code = inputs.get("code")
    values = {name: inputs[name] for name in AzmlDeploymentOptions._fields if name in inputs}
    values["code_path"] = code.path if code is not None else ""
    return azml_deployment_options(**values)


def azml_check_code(code_path: str, scoring_script: str) -> None:
    import os

    if not code_path:
        return
    if not os.path.isdir(code_path):
        raise ValueError(f"code: {code_path!r} is not a folder")
    if not scoring_script:
        raise ValueError("scoring_script: required with a code folder")
    if not os.path.isfile(os.path.join(code_path, scoring_script)):
        present = sorted(os.listdir(code_path))[:20]
        raise ValueError(
            f"scoring_script: {scoring_script!r} is not in the code folder (it holds: "
            f"{', '.join(present) or 'nothing'})"
        )
    if os.path.getsize(os.path.join(code_path, scoring_script)) == 0:
        # An empty script has no init() or run(): the inference server would fail at start,
        # after the code was uploaded and the deployment created.
        raise ValueError(f"scoring_script: {scoring_script!r} is empty")


def azml_resolve_environment(code_path: str, conda_file: str, image: str, environment: str) -> dict:
    # What the deployment runs in: a registered environment, or an inline one from a conda file
    # (content, or a file name inside the code folder) on a base image.
    import os

    if environment and (conda_file or image):
        raise ValueError(
            "environment: give a registered environment id, or conda_file/image, not both"
        )
    if environment:
        if not environment.startswith(("azureml:", "/subscriptions/")):
            raise ValueError(
                f"environment: {environment!r} must be azureml:NAME:VERSION, "
                "azureml:NAME@latest or an ARM id"
            )
        return {"environment": environment}
    if not conda_file:
        if image:
            return {"image": image}
        return {}
    content = conda_file
    if "\n" not in conda_file and conda_file.endswith((".yml", ".yaml")):
        candidate = os.path.join(code_path, conda_file) if code_path else conda_file
        if not os.path.isfile(candidate):
            raise ValueError(f"conda_file: {conda_file!r} is not a file in the code folder")
        with open(candidate, encoding="utf-8") as handle:
            content = handle.read()
    import yaml

    try:
        parsed = yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise ValueError(f"conda_file: not valid YAML ({error})") from error
    if not isinstance(parsed, dict) or "dependencies" not in parsed:
        raise ValueError("conda_file: must be a conda environment with a 'dependencies' list")
    return {
        "conda_file": parsed,
        "image": image or "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
    }
