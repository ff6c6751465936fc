# Registering a model version.
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.calls import azml_call, azml_wait
from azml_components.runtime.links import azml_studio_url
from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_asset_version,
    azml_check_choice,
    azml_check_range,
    azml_string_map,
)


def azml_validate_model_source(model_path: str, model_uri: str, model_type: str) -> str:
    # Exactly one of a local artifact path and an existing storage URI; returns what to register.
    import os

    azml_check_choice("model_type", model_type, ["custom_model", "mlflow_model", "triton_model"])
    if bool(model_path) == bool(model_uri):
        raise ValueError(
            "model / model_uri: give exactly one: the model artifact from an upstream task, or "
            "model_uri pointing at existing storage"
        )
    if model_uri:
        schemes = ("azureml://", "https://", "wasbs://", "abfss://")
        if not model_uri.startswith(schemes):
            raise ValueError(
                f"model_uri: {model_uri!r} must start with one of {', '.join(schemes)}"
            )
        return model_uri
    if not os.path.exists(model_path):
        raise ValueError(f"model: the artifact's files are missing at {model_path!r}")
    if os.path.isdir(model_path):
        has_file = any(files for _, _, files in os.walk(model_path))
        if not has_file:
            raise ValueError(f"model: the artifact folder {model_path!r} is empty")
        if model_type == "mlflow_model" and not os.path.isfile(os.path.join(model_path, "MLmodel")):
            raise ValueError(
                "model: model_type 'mlflow_model' needs an MLmodel file at the top of the "
                f"artifact folder {model_path!r}"
            )
    elif model_type == "mlflow_model":
        raise ValueError("model: model_type 'mlflow_model' needs a folder, not a single file")
    elif os.path.getsize(model_path) == 0:
        raise ValueError(f"model: the artifact file {model_path!r} is empty")
    return model_path


def azml_content_hash(model_path: str) -> str:
    # The SDK's own content hash of a local model: the one pass over the files. The SDK names
    # the upload folder after it (LocalUpload/<hash>/<folder name>), and takes it from
    # Model._upload_hash instead of hashing again (azure-ai-ml 1.35.2,
    # _artifacts/_artifact_utilities.py: _check_and_upload_path / _upload_to_datastore).
    from azure.ai.ml._utils._asset_utils import get_ignore_file, get_object_hash

    return get_object_hash(model_path, get_ignore_file(model_path))


def azml_model_versions(client, model_name: str) -> list:
    # The active versions of `model_name` ([] before its first registration). Reads only.
    from azure.core.exceptions import ResourceNotFoundError

    def listing():
        try:
            return list(client.models.list(name=model_name))
        except ResourceNotFoundError:
            return []

    return azml_call(f"listing versions of model {model_name!r}", listing)


def azml_same_content_version(
    versions: list, model_path: str, content_hash: str, model_type: str, props: dict
):
    # The version among `versions` whose files are exactly these (its path is the upload folder
    # the SDK derives from the content hash: .../paths/LocalUpload/<hash>/<folder name>), of the
    # same type and with the properties asked for; None when there is none.
    import os

    folder = f"/paths/LocalUpload/{content_hash}/{os.path.basename(os.path.normpath(model_path))}"
    for version in versions:
        if (
            str(version.path).rstrip("/").endswith(folder)
            and (version.type or "custom_model") == model_type
            and all((version.properties or {}).get(k) == v for k, v in props.items())
        ):
            return version
    return None


def azml_register_model(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    model_name: str,
    model_path: str = "",
    model_uri: str = "",
    model_type: str = "custom_model",
    model_version: str = "",
    description: str = "",
    tags: Optional[dict] = None,
    properties: Optional[dict] = None,
    lineage: Optional[dict] = None,
    timeout_seconds: int = 1800,
    force_new_version: bool = False,
) -> dict:
    # Validate everything, then one create_or_update; returns what the outputs carry. A local
    # model whose content a version of the same name already holds reuses that version with no
    # write at all (reused=True; its tags keep the run that registered it) unless
    # force_new_version or an explicit model_version asks for a new one.
    import os

    azml_check_asset_name("model_name", model_name)
    if model_version:
        azml_check_asset_version("model_version", model_version)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    source = azml_validate_model_source(model_path, model_uri, model_type)
    all_tags = azml_string_map("tags", tags)
    # Lineage goes last so a run can always be traced, whatever the user's tags say.
    # A placeholder KFP did not fill in (a default outside a pipeline) is no lineage at all.
    all_tags.update(
        {k: str(v) for k, v in (lineage or {}).items() if v and not str(v).startswith("{{$")}
    )
    props = azml_string_map("properties", properties)
    subscription = azml_subscription_id(subscription_id)

    from azure.ai.ml.entities import Model

    client = azml_ml_client(subscription, resource_group, workspace_name)
    content_hash = ""
    if model_path:
        from concurrent.futures import ThreadPoolExecutor

        source = os.path.abspath(source)
        reuse = not (force_new_version or model_version)
        with ThreadPoolExecutor(1) as pool:
            # The listing (a read) runs while the files are hashed: it adds no time.
            listed = pool.submit(azml_model_versions, client, model_name) if reuse else None
            content_hash = azml_wait(
                f"hashing the files of model {model_name!r}",
                lambda: azml_content_hash(source),
                timeout_seconds,
            )
            versions = listed.result() if listed is not None else []
        if reuse:
            same = azml_same_content_version(versions, source, content_hash, model_type, props)
            if same is not None:
                return azml_registered_model(
                    same, model_type, subscription, resource_group, workspace_name, True
                )
    model = Model(
        name=model_name,
        version=model_version or None,
        path=source,
        type=model_type,
        description=description or None,
        tags=all_tags,
        properties=props,
    )
    if content_hash:
        model._upload_hash = content_hash  # the SDK uploads under it without hashing again
    registered = azml_wait(
        f"registering model {model_name!r}",
        lambda: client.models.create_or_update(model),
        timeout_seconds,
    )
    return azml_registered_model(
        registered, model_type, subscription, resource_group, workspace_name, False
    )


def azml_registered_model(
    registered, model_type: str, subscription: str, resource_group: str, workspace_name: str,
    reused: bool,
) -> dict:
    # What register_model's outputs carry about a version, new or reused.
    version = str(registered.version)
    return {
        "name": registered.name,
        "version": version,
        "asset_id": f"azureml:{registered.name}:{version}",
        "arm_id": registered.id,
        "model_type": model_type,
        "path": str(registered.path),
        "tags": dict(registered.tags or {}),
        "studio_url": azml_studio_url(
            subscription, resource_group, workspace_name, "model", registered.name, version
        ),
        "reused": reused,
    }
