# Deploying a registered model to a managed online endpoint.
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.calls import azml_call, azml_describe_error, azml_wait
from azml_components.runtime.register import azml_string_map
from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_plan_traffic,
    azml_traffic_of,
)
from azml_components.runtime.validation import (
    azml_check_choice,
    azml_check_online_name,
    azml_check_range,
)


def azml_studio_endpoint_url(
    subscription_id: str, resource_group: str, workspace: str, endpoint_name: str
) -> str:
    from urllib.parse import quote

    wsid = (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{workspace}"
    )
    return (
        f"https://ml.azure.com/endpoints/realtime/{quote(endpoint_name)}/detail?wsid={quote(wsid)}"
    )


def azml_check_model_id(model_id: str) -> str:
    # azureml:NAME:VERSION or the version's ARM id; a model name alone would deploy whatever
    # version happens to be latest, which a pipeline should say explicitly.
    import re

    if re.fullmatch(r"azureml:[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9_.-]*", model_id):
        return model_id
    if re.fullmatch(
        r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
        r"Microsoft\.MachineLearningServices/workspaces/[^/]+/models/[^/]+/"
        r"versions/[^/]+",
        model_id,
        flags=re.IGNORECASE,
    ):
        return model_id
    raise ValueError(
        f"model_id: {model_id!r} must be azureml:NAME:VERSION or a model version's ARM id"
    )


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


def azml_get_or_none(what: str, function, *args):
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return azml_call(what, function, *args)
    except RuntimeError as error:
        if isinstance(error.__cause__, ResourceNotFoundError):
            return None
        raise


def azml_best_effort(what: str, function, timeout_seconds: int) -> str:
    # Clean-up after a failure must not hide the failure: report, never raise.
    try:
        azml_wait(what, function, timeout_seconds)
        return f"{what}: done"
    except BaseException as error:  # noqa: BLE001 - reported in the message instead
        return f"{what}: FAILED ({error})"


def azml_deployment_logs(client, endpoint_name: str, deployment_name: str) -> str:
    try:
        return client.online_deployments.get_logs(deployment_name, endpoint_name, lines=50)
    except Exception as error:  # noqa: BLE001 - logs are a courtesy in an error message
        return f"(logs unavailable: {azml_describe_error(error)})"


def azml_set_traffic(client, endpoint, traffic: dict, mirror: Optional[dict], timeout_seconds: int):
    # Traffic is a PUT of the whole endpoint with the new maps.
    endpoint.traffic = dict(traffic)
    if mirror is not None:
        endpoint.mirror_traffic = dict(mirror)
    return azml_wait(
        f"setting traffic on endpoint {endpoint.name!r} to {traffic}",
        lambda: client.online_endpoints.begin_create_or_update(endpoint).result(),
        timeout_seconds,
    )


def azml_deploy_model(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    code_path: str = "",
    scoring_script: str = "",
    conda_file: str = "",
    image: str = "",
    environment: str = "",
    instance_type: str = "Standard_DS3_v2",
    instance_count: int = 1,
    auth_mode: str = "key",
    code_in_model: str = "",
    traffic_percent: int = 100,
    environment_variables: Optional[dict] = None,
    timeout_seconds: int = 3600,
) -> dict:
    # Create the endpoint if needed, create or update the deployment, then move traffic. Traffic
    # moves only after the deployment succeeded, so a failed new deployment never takes traffic
    # from a working one; a failed new deployment (and an endpoint this call created) is deleted.
    import os

    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    azml_check_model_id(model_id)
    azml_check_range("instance_count", instance_count, 1)
    azml_check_range("traffic_percent", traffic_percent, 0, 100)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    azml_check_choice("auth_mode", auth_mode, ["key", "aml_token"])
    if not instance_type or not isinstance(instance_type, str):
        raise ValueError("instance_type: required, e.g. Standard_DS3_v2")
    env_vars = azml_string_map("environment_variables", environment_variables)
    if code_in_model:
        if code_path:
            raise ValueError("code / code_in_model: give at most one")
        if not scoring_script:
            raise ValueError("scoring_script: required with code_in_model")
        if os.path.isabs(code_in_model) or ".." in code_in_model.split("/"):
            raise ValueError(f"code_in_model: {code_in_model!r} must be a relative folder")
    else:
        azml_check_code(code_path, scoring_script)
        env_spec = azml_resolve_environment(code_path, conda_file, image, environment)
    subscription = azml_subscription_id(subscription_id)
    client = azml_ml_client(subscription, resource_group, workspace_name)

    from azure.ai.ml.entities import (
        CodeConfiguration,
        Environment,
        ManagedOnlineDeployment,
        ManagedOnlineEndpoint,
    )

    # Reads only until every input is known good.
    if model_id.startswith("azureml:"):
        _, name, version = model_id.split(":")
        model = azml_call(f"reading model {model_id}", client.models.get, name, version=version)
    else:
        parts = model_id.split("/")
        model = azml_call(
            f"reading model {model_id}", client.models.get, parts[-3], version=parts[-1]
        )
    if code_in_model:
        code_path = azml_code_from_model(client, model, code_in_model, timeout_seconds)
        azml_check_code(code_path, scoring_script)
        env_spec = azml_resolve_environment(code_path, conda_file, image, environment)
    is_mlflow = (model.type or "").lower() == "mlflow_model"
    if not is_mlflow and not code_path:
        raise ValueError(
            f"code: model {model_id} is a {model.type}; it needs a code folder with a scoring "
            "script (only mlflow_model deploys without one)"
        )
    if (
        not is_mlflow
        and not env_spec.get("environment")
        and not env_spec.get("conda_file")
        and not env_spec.get("image")
    ):
        raise ValueError(
            f"environment: model {model_id} is a {model.type}; give conda_file (with image) or "
            "a registered environment"
        )
    existing = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    deployments = []
    previous_traffic = {}
    previous_mirror = {}
    if existing is not None:
        previous_traffic, previous_mirror = azml_traffic_of(existing)
        deployments = [
            d.name
            for d in azml_call(
                f"listing deployments of {endpoint_name!r}",
                lambda: list(client.online_deployments.list(endpoint_name)),
            )
        ]
        if existing.auth_mode and existing.auth_mode.lower() != auth_mode.lower():
            print(f"Note: endpoint {endpoint_name!r} keeps its auth_mode {existing.auth_mode!r}")
    is_new_deployment = deployment_name.lower() not in {d.lower() for d in deployments}
    planned = azml_plan_traffic(previous_traffic, deployment_name, traffic_percent)
    mirror = {
        n: p
        for n, p in previous_mirror.items()
        if not (n.lower() == deployment_name.lower() and traffic_percent > 0)
    }
    azml_check_traffic(planned, mirror, deployments + [deployment_name])

    created_endpoint = False
    if existing is None:
        endpoint = ManagedOnlineEndpoint(
            name=endpoint_name, auth_mode=auth_mode, tags={"created_by": "azml-components"}
        )
        azml_wait(
            f"creating endpoint {endpoint_name!r}",
            lambda: client.online_endpoints.begin_create_or_update(endpoint).result(),
            timeout_seconds,
        )
        created_endpoint = True

    kwargs = {}
    if code_path:
        kwargs["code_configuration"] = CodeConfiguration(
            code=code_path, scoring_script=scoring_script
        )
    if env_spec.get("environment"):
        kwargs["environment"] = env_spec["environment"]
    elif env_spec:
        kwargs["environment"] = Environment(
            image=env_spec.get("image"), conda_file=env_spec.get("conda_file")
        )
    deployment = ManagedOnlineDeployment(
        name=deployment_name,
        endpoint_name=endpoint_name,
        model=model_id,
        instance_type=instance_type,
        instance_count=instance_count,
        environment_variables=env_vars or None,
        **kwargs,
    )
    try:
        azml_wait(
            f"deploying {deployment_name!r} to endpoint {endpoint_name!r}",
            lambda: client.online_deployments.begin_create_or_update(deployment).result(),
            timeout_seconds,
        )
    except BaseException as error:
        notes = [azml_deployment_logs(client, endpoint_name, deployment_name)]
        interrupted = isinstance(error, InterruptedError)
        if is_new_deployment:
            notes.append(
                azml_best_effort(
                    f"deleting failed deployment {deployment_name!r}",
                    lambda: client.online_deployments.begin_delete(
                        deployment_name, endpoint_name
                    ).result(),
                    20 if interrupted else 600,
                )
            )
        if created_endpoint:
            notes.append(
                azml_best_effort(
                    f"deleting endpoint {endpoint_name!r} created by this run",
                    lambda: client.online_endpoints.begin_delete(endpoint_name).result(),
                    20 if interrupted else 600,
                )
            )
        message = "\n".join([str(error), "Traffic was not changed.", *notes])
        raise (
            type(error)(message)
            if isinstance(error, (InterruptedError, TimeoutError))
            else RuntimeError(message)
        ) from error

    endpoint = azml_call(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    current, _ = azml_traffic_of(endpoint)
    if {k.lower(): v for k, v in current.items() if v} != {
        k.lower(): v for k, v in planned.items() if v
    } or mirror != previous_mirror:
        try:
            endpoint = azml_set_traffic(client, endpoint, planned, mirror, timeout_seconds)
        except BaseException as error:
            note = azml_best_effort(
                f"restoring traffic {previous_traffic}",
                lambda: azml_set_traffic(
                    client, endpoint, previous_traffic, previous_mirror, timeout_seconds
                ),
                20 if isinstance(error, InterruptedError) else 600,
            )
            raise type(error)(f"{error}\n{note}") from error
    endpoint = azml_call(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    dep = azml_call(
        f"reading deployment {deployment_name!r}",
        client.online_deployments.get,
        deployment_name,
        endpoint_name,
    )
    traffic, mirror_traffic = azml_traffic_of(endpoint)
    return {
        "endpoint_name": endpoint.name,
        "deployment_name": dep.name,
        "scoring_uri": endpoint.scoring_uri,
        "swagger_uri": endpoint.openapi_uri or "",
        "auth_mode": endpoint.auth_mode,
        "traffic": traffic,
        "mirror_traffic": mirror_traffic,
        "previous_traffic": previous_traffic,
        "endpoint_id": endpoint.id,
        "deployment_id": dep.id,
        "model_id": model_id,
        "model_type": model.type,
        "created_endpoint": created_endpoint,
        "studio_url": azml_studio_endpoint_url(
            subscription, resource_group, workspace_name, endpoint.name
        ),
    }
