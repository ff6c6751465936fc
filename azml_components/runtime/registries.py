# Azure ML registries: the registry's MLClient, its model versions, and promoting a workspace
# model version into one (dev -> registry -> prod).
from typing import Optional

from azml_components.runtime.azure_client import (
    azml_ml_client,
    azml_registry_client,
    azml_subscription_id,
)
from azml_components.runtime.calls import azml_get_or_none, azml_wait
from azml_components.runtime.lookups import azml_read_registered_model
from azml_components.runtime.register import azml_content_hash, azml_validate_model_source
from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_asset_version,
    azml_check_model_id,
    azml_check_range,
    azml_check_registry_name,
    azml_parse_registry_asset,
    azml_registry_model_id,
    azml_string_map,
)


def azml_read_registry_model(registry_client, registry_name: str, name: str, version: str,
                             field: str = "model_id"):
    # The registry model version, or None when the registry has no such version.
    return azml_get_or_none(
        f"reading {azml_registry_model_id(registry_name, name, version)}",
        lambda: registry_client.models.get(name, version=version),
    )


def azml_promotion_lineage(source, subscription: str, resource_group: str,
                           workspace_name: str, lineage: dict) -> dict:
    # What a promoted version records of where it came from, as properties (a registry
    # version's properties never change: the REST API spec's asset `properties`, "can be
    # added, but not removed or altered"). The source version's ARM id is what makes two
    # promotions the same content: workspace versions are immutable too.
    recorded = {
        "azml_source_model_id": str(source.id),
        "azml_source_workspace": f"/subscriptions/{subscription}/resourceGroups/"
                                 f"{resource_group}/providers/Microsoft.MachineLearningServices/"
                                 f"workspaces/{workspace_name}",
    }
    recorded.update(
        {k: str(v) for k, v in (lineage or {}).items() if v and not str(v).startswith("{{$")}
    )
    return recorded


def azml_check_existing_promotion(existing, source, name: str, version: str,
                                  registry_name: str) -> None:
    # An existing registry version is reused only when it came from this very source version;
    # anything else under that version is an error: registry versions are immutable.
    came_from = (existing.properties or {}).get("azml_source_model_id", "")
    if came_from.lower() != str(source.id).lower():
        where = came_from or "somewhere else (not promoted by promote_model)"
        raise ValueError(
            f"registry_model_version: {azml_registry_model_id(registry_name, name, version)} "
            f"already exists with other content (from {where}); registry versions are "
            "immutable: give another registry_model_version"
        )


def azml_copy_into_registry(client, registry_client, registry_name: str, source, name: str,
                            version: str, properties: dict, tags: dict, timeout_seconds: int):
    # The equivalent of the SDK's models.share (which takes no properties of ours and refuses
    # an existing version): the source version's files, downloaded, created in the registry
    # with the same type and description. The SDK lays a download out as
    # <dir>/<model name>/<registered file or folder> (azure-ai-ml ModelOperations.download),
    # so the registered folder's name (the AZUREML_MODEL_DIR layout) is kept.
    import os
    import tempfile

    from azure.ai.ml.entities import Model

    with tempfile.TemporaryDirectory(prefix="azml-promote-") as target:
        azml_wait(
            f"downloading model {source.name}:{source.version}",
            lambda: client.models.download(source.name, version=source.version,
                                           download_path=target),
            timeout_seconds,
        )
        root = os.path.join(target, source.name)
        entries = sorted(os.listdir(root)) if os.path.isdir(root) else []
        path = os.path.join(root, entries[0]) if len(entries) == 1 else root
        model = Model(name=name, version=version, path=path, type=source.type,
                      description=source.description, tags=tags, properties=properties)
        return azml_wait(
            f"creating {azml_registry_model_id(registry_name, name, version)}",
            lambda: registry_client.models.create_or_update(model),
            timeout_seconds,
        )


def azml_promote_model(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    model_id: str,
    registry_name: str,
    registry_model_name: str = "",
    registry_model_version: str = "",
    lineage: Optional[dict] = None,
    timeout_seconds: int = 1800,
    client=None,
    registry_client=None,
) -> dict:
    # Validate, read the source version and the registry's version of the same name and
    # version; reuse it when it came from this source (no write), refuse it when it holds
    # anything else (registry versions are immutable), else copy the source into the registry.
    azml_check_model_id(model_id)
    if azml_parse_registry_asset(model_id, "models"):
        raise ValueError(f"model_id: {model_id!r} is a registry model already; promote_model "
                         "copies a workspace model version into a registry")
    azml_check_registry_name("registry_name", registry_name)
    if registry_model_name:
        azml_check_asset_name("registry_model_name", registry_model_name)
    if registry_model_version:
        azml_check_asset_version("registry_model_version", registry_model_version)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    azml_string_map("lineage", lineage)
    subscription = azml_subscription_id(subscription_id)
    if client is None:  # else the run's workspace MLClient, made by the component
        client = azml_ml_client(subscription, resource_group, workspace_name)
    source = azml_read_registered_model(client, model_id)
    name = registry_model_name or source.name
    version = registry_model_version or str(source.version)
    if registry_client is None:
        registry_client = azml_registry_client(registry_name)
    existing = azml_read_registry_model(registry_client, registry_name, name, version)
    if existing is not None:
        azml_check_existing_promotion(existing, source, name, version, registry_name)
        return azml_promoted_model(existing, registry_name, source, True)
    properties = dict(source.properties or {})
    properties.update(azml_promotion_lineage(source, subscription, resource_group,
                                             workspace_name, lineage))
    tags = dict(source.tags or {})
    tags.update({k: v for k, v in properties.items() if k.startswith("azml_source")})
    created = azml_copy_into_registry(client, registry_client, registry_name, source, name,
                                      version, properties, tags, timeout_seconds)
    return azml_promoted_model(created, registry_name, source, False)


def azml_promoted_model(promoted, registry_name: str, source, reused: bool) -> dict:
    # What promote_model's (and register_model's, into a registry) outputs carry about the
    # registry version; source is the workspace version promoted (None: registered directly).
    version = str(promoted.version)
    return {
        "name": promoted.name,
        "version": version,
        "asset_id": azml_registry_model_id(registry_name, promoted.name, version),
        "arm_id": azml_registry_model_id(registry_name, promoted.name, version),
        "registry_name": registry_name,
        "model_type": promoted.type or "custom_model",
        "source_model_id": str(source.id) if source is not None else "",
        "path": str(promoted.path),
        "tags": dict(promoted.tags or {}),
        "reused": reused,
    }


def azml_registry_versions(registry_client, model_name: str) -> list:
    # The registry's versions of `model_name` ([] before the first one). Reads only.
    return azml_get_or_none(
        f"listing versions of model {model_name!r} in the registry",
        lambda: list(registry_client.models.list(name=model_name)),
    ) or []


def azml_same_registry_content(version, content_hash: str, model_type: str, props: dict) -> bool:
    # A registry version holds these files when it records their content hash (the SDK's,
    # as register_model computes it), with the same model type and the properties asked for.
    kept = version.properties or {}
    return (kept.get("azml_content_hash") == content_hash
            and (version.type or "custom_model") == model_type
            and all(kept.get(k) == v for k, v in props.items()))


def azml_register_in_registry(
    registry_name: str, model_name: str, model_path: str, model_type: str = "custom_model",
    model_version: str = "", description: str = "", tags: Optional[dict] = None,
    properties: Optional[dict] = None, lineage: Optional[dict] = None,
    timeout_seconds: int = 1800, registry_client=None, model_uri: str = "",
) -> dict:
    # register_model with registry_name: the model artifact straight into a registry. A version
    # holding these files is reused (no write); an explicit version holding other content is
    # refused before any upload (registry versions are immutable); else a new version.
    from azure.ai.ml.entities import Model

    azml_check_registry_name("registry_name", registry_name)
    azml_check_asset_name("model_name", model_name)
    if model_version:
        azml_check_asset_version("model_version", model_version)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    if model_uri or not model_path:
        raise ValueError("model / model_uri: registering into a registry (registry_name) takes "
                         "the model artifact; model_uri names workspace storage")
    source = azml_validate_model_source(model_path, "", model_type)
    all_tags = azml_string_map("tags", tags)
    all_tags.update({k: str(v) for k, v in (lineage or {}).items()
                     if v and not str(v).startswith("{{$")})
    props = azml_string_map("properties", properties)
    if registry_client is None:
        registry_client = azml_registry_client(registry_name)
    content_hash = azml_content_hash(source)
    versions = azml_registry_versions(registry_client, model_name)
    if model_version:
        versions = [v for v in versions if str(v.version) == model_version]
        if versions and not azml_same_registry_content(versions[0], content_hash, model_type,
                                                       props):
            raise ValueError(
                f"model_version: {azml_registry_model_id(registry_name, model_name, model_version)}"
                " already exists with other content; registry versions are immutable: give a "
                "new model_version, or leave it empty to take the next free version")
    same = [v for v in versions if azml_same_registry_content(v, content_hash, model_type, props)]
    if same:
        return azml_promoted_model(min(same, key=lambda v: azml_version_order(v.version)),
                                   registry_name, None, True)
    numbers = [int(v.version) for v in azml_registry_versions(registry_client, model_name)
               if str(v.version).isdigit()]
    version = model_version or str(max(numbers, default=0) + 1)
    model = Model(name=model_name, version=version, path=source, type=model_type,
                  description=description or None, tags=all_tags,
                  properties={**props, "azml_content_hash": content_hash})
    created = azml_wait(
        f"registering {azml_registry_model_id(registry_name, model_name, version)}",
        lambda: registry_client.models.create_or_update(model), timeout_seconds)
    return azml_promoted_model(created, registry_name, None, False)


def azml_version_order(version) -> tuple:
    # Numbers in numeric order, before any other version name.
    text = str(version)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)
