# Registering a model version.
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.calls import (
    azml_call,
    azml_enum_text,
    azml_get_or_none,
    azml_missing_scope,
    azml_wait,
)
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


def azml_datastore_path(model_uri: str, subscription_id: str, resource_group: str,
                        workspace_name: str):
    # (datastore, path) of an azureml:// datastore URI in this workspace, short
    # (azureml://datastores/D/paths/P) or long (azureml://subscriptions/S/resourcegroups/G/
    # workspaces/W/datastores/D/paths/P, as register_model's outputs carry it); None for any
    # other URI, or one in another workspace.
    import re

    match = re.fullmatch(
        r"azureml://(?:subscriptions/([^/]+)/resource[gG]roups/([^/]+)/(?:providers/"
        r"Microsoft\.MachineLearningServices/)?workspaces/([^/]+)/)?datastores/([^/]+)/paths/"
        r"(.+)",
        model_uri,
    )
    if not match:
        return None
    sub, group, workspace, datastore, path = match.groups()
    if sub and (sub.lower(), group.lower(), workspace.lower()) != (
        subscription_id.lower(), resource_group.lower(), workspace_name.lower()
    ):
        return None
    return datastore, path.strip("/")


def azml_check_model_uri_exists(client, model_uri: str, datastore: str, path: str) -> None:
    # Azure registers a custom model at any path, existing or not (the deployment fails later,
    # at its storage initializer): look first. Reads only: the datastore with its credential
    # (a POST listSecrets, as the SDK's own upload does) and a blob listing.
    from azure.storage.blob import ContainerClient

    store = azml_get_or_none(
        f"reading datastore {datastore!r} for model_uri",
        lambda: client.datastores.get(datastore, include_secrets=True),
        client=client,
    )
    if store is None:
        raise ValueError(
            f"model_uri: {model_uri!r} names datastore {datastore!r}, which this workspace does "
            "not have"
        )
    # The SDK's DatastoreType.AZURE_BLOB has the value "AzureBlob" (azure-ai-ml 1.35), the REST
    # spec's datastoreType; compared without case and '_' so either spelling is a blob store.
    kind = azml_enum_text(getattr(store, "type", "") or "")
    if kind.replace("_", "").lower() != "azureblob":
        return  # only blob datastores are looked into
    credentials = getattr(store, "credentials", None)
    secret = getattr(credentials, "account_key", None) or getattr(credentials, "sas_token", None)
    account_url = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    container = ContainerClient(account_url, store.container_name, credential=secret or None)

    def found() -> bool:
        for blob in container.list_blobs(name_starts_with=path, timeout=60):
            if blob.name == path or blob.name.startswith(path + "/"):
                return True
        return False

    with container:
        exists = azml_call(f"looking for {model_uri}", found)
    if not exists:
        raise ValueError(
            f"model_uri: {model_uri!r} does not exist (nothing at {path!r} in datastore "
            f"{datastore!r})"
        )


def azml_version_holder(client, model_name: str, version: str, entity: bool = False):
    # The registration id `version` carries: None when the version does not exist, "" when it
    # has none (registered by anything else). entity=True: the version itself (or None).
    existing = azml_get_or_none(
        f"reading model {model_name}:{version}", client.models.get, model_name, version,
        client=client,
    )
    if existing is None or entity:
        return existing
    return (existing.properties or {}).get("azml_registration_id", "")


def azml_next_version(client, model_name: str, tried: int, listed=None) -> str:
    # The next free numeric version as the workspace lists them (what the SDK's auto-increment
    # asks the service for), never one this call already tried. `listed`: a listing this run
    # took already (while hashing), used instead of listing again.
    if listed is None:
        listed = azml_model_versions(client, model_name)
    numbers = [int(v.version) for v in listed if str(v.version).isdigit()]
    return str(max(numbers + [tried]) + 1)


def azml_content_hash(model_path: str) -> str:
    # The SDK's own content hash of a local model: the one pass over the files. The SDK names
    # the upload folder after it (LocalUpload/<hash>/<folder name>), and takes it from
    # Model._upload_hash instead of hashing again (azure-ai-ml 1.35.2,
    # _artifacts/_artifact_utilities.py: _check_and_upload_path / _upload_to_datastore).
    from azure.ai.ml._utils._asset_utils import get_ignore_file, get_object_hash

    return get_object_hash(model_path, get_ignore_file(model_path))


def azml_model_versions(client, model_name: str) -> list:
    # The active versions of `model_name` ([] before its first registration; a missing
    # workspace is a ValueError naming it, azml_missing_scope). Reads only.
    from azure.core.exceptions import ResourceNotFoundError

    def listing():
        try:
            found = list(client.models.list(name=model_name))
        except ResourceNotFoundError as error:
            azml_missing_scope(error, client)
            return []
        # An answer from under the workspace: it exists, so a later 404 (a version not there
        # yet) needs no workspace read to tell which it is (azml_missing_scope).
        client.azml_workspace_found = True
        return found

    return azml_call(f"listing versions of model {model_name!r}", listing)


def azml_content_differences(version, same_files: bool, model_type: str, props: dict) -> list:
    # What makes `version` other content than asked for: its files, its model type, a property
    # asked for that it does not carry with that value ([] when it is the same content).
    differences = [] if same_files else ["other files"]
    kept_type = version.type or "custom_model"
    if kept_type != model_type:
        differences.append(f"model_type {kept_type!r}")
    kept = version.properties or {}
    differences += [
        f"property {k!r} = {kept[k]!r}" if k in kept else f"no property {k!r}"
        for k, v in props.items() if kept.get(k) != v
    ]
    return differences


def azml_content_matches(
    versions: list, model_path: str, content_hash: str, model_type: str, props: dict
) -> list:
    # (version, what differs from these files, type and properties) for each of `versions`:
    # the same files are the upload folder the SDK derives from the content hash
    # (.../paths/LocalUpload/<hash>/<folder name>).
    import os

    folder = f"/paths/LocalUpload/{content_hash}/{os.path.basename(os.path.normpath(model_path))}"
    return [
        (version, azml_content_differences(
            version, str(version.path).rstrip("/").endswith(folder), model_type, props
        ))
        for version in versions
    ]


def azml_same_uri_version(
    version, model_uri: str, model_type: str, props: dict, subscription: str,
    resource_group: str, workspace_name: str,
):
    # (version, what differs) for an existing version and a model_uri: the same storage path is
    # the same files. A datastore path compares in either form (the SDK stores the short
    # azureml://datastores/D/paths/P in the long form); anything else as written. None when the
    # version does not exist.
    if version is None:
        return None

    def place(uri: str):
        located = azml_datastore_path(uri, subscription, resource_group, workspace_name)
        return located if located is not None else uri.rstrip("/")

    same_files = place(str(version.path)) == place(model_uri)
    return version, azml_content_differences(version, same_files, model_type, props)


def azml_check_given_version(match, model_name: str, model_version: str, force: bool):
    # An explicit model_version that exists: (version, what differs) from the content rules
    # above, or None when it does not exist. The same content is that version, reused as it
    # is; other content is refused before any upload, since versions are immutable (a PUT would
    # rewrite the version's tags and description, or fail with 409 after the upload).
    if match is None:
        return None
    differences = match[1]
    where = f"model_version: version {model_version!r} of model {model_name!r} already exists"
    if force:
        raise ValueError(
            f"{where}; force_new_version asks for a new version: give a model_version that does "
            "not exist, or leave it empty to take the next free version"
        )
    if differences:
        raise ValueError(
            f"{where} with other content ({', '.join(differences)}); versions are immutable: "
            "give a new model_version, or leave it empty to take the next free version"
        )
    return match


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
    client=None,
) -> dict:
    # Validate everything, then register. A local model whose content a version of the same
    # name already holds reuses that version with no write at all (reused=True; its tags keep
    # the run that registered it) unless force_new_version asks for a new one; otherwise a new
    # version (azml_register_new_version: safe when runs of one name race). An explicit
    # model_version that exists is reused the same way when it holds this content, and refused
    # (ValueError, before any upload) when it holds other content: versions are immutable.
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
    if "azml_registration_id" in props:
        raise ValueError("properties: 'azml_registration_id' is set by register_model itself")
    subscription = azml_subscription_id(subscription_id)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription, resource_group, workspace_name)
    if model_uri:
        located = azml_datastore_path(model_uri, subscription, resource_group, workspace_name)
        if located is not None:
            azml_check_model_uri_exists(client, model_uri, *located)
    content_hash, same, listed = "", None, None
    if model_path:
        source = os.path.abspath(source)
        reuse = not (force_new_version or model_version)
        same, content_hash, listed = azml_hash_and_find_same(
            client, model_name, model_version, source, model_type, props, reuse,
            timeout_seconds,
        )
    elif model_version:
        given = azml_version_holder(client, model_name, model_version, entity=True)
        same = azml_same_uri_version(
            given, model_uri, model_type, props, subscription, resource_group, workspace_name
        )
    if model_version:  # an existing version is reused as it is, or refused: before any upload
        same = azml_check_given_version(same, model_name, model_version, force_new_version)
    if same is not None:
        return azml_registered_model(
            same[0], model_type, subscription, resource_group, workspace_name, True
        )
    registered = azml_register_new_version(
        client, model_name, model_version, source, content_hash, model_type, description,
        all_tags, props, timeout_seconds, listed,
    )
    reused = False
    # Written at its first pick from the listing: no version below holds these files.
    first_pick = listed is not None and str(registered.version) == azml_next_version(
        client, model_name, 0, listed)
    if model_path and not (force_new_version or model_version) and not first_pick:
        registered, reused = azml_settle_on_first(
            client, model_name, registered, source, content_hash, model_type, props
        )
    return azml_registered_model(
        registered, model_type, subscription, resource_group, workspace_name, reused
    )


def azml_hash_and_find_same(
    client, model_name: str, model_version: str, source: str, model_type: str, props: dict,
    reuse: bool, timeout_seconds: int,
) -> tuple:
    # (a match or None, the SDK's content hash, the listing or None). A match is (version,
    # what differs from these files): for an explicit model_version, that version when it
    # exists (whatever it holds: azml_check_given_version decides); else, when reuse, the
    # version already holding these files. The read (the listing or the version) runs while
    # the files are hashed: it adds no time.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        if model_version:
            read = pool.submit(azml_version_holder, client, model_name, model_version, True)
        else:
            read = pool.submit(azml_model_versions, client, model_name) if reuse else None
        content_hash = azml_wait(
            f"hashing the files of model {model_name!r}",
            lambda: azml_content_hash(source),
            timeout_seconds,
        )
        found = read.result() if read is not None else None
    if model_version:
        versions = [found] if found is not None else []
    else:
        versions = found or []
    matches = azml_content_matches(versions, source, content_hash, model_type, props)
    if model_version or not reuse:
        return (matches[0] if matches else None), content_hash, None
    return azml_first_same(matches), content_hash, versions


def azml_first_same(matches: list):
    # The match with no differences whose version comes first (numbers in numeric order, before
    # any other version name): the one version every run picks among the same ones, whatever
    # order the listing gives them in. None when no version holds the same content.
    same = [m for m in matches if not m[1]]

    def order(match) -> tuple:
        version = str(match[0].version)
        return (0, int(version), "") if version.isdigit() else (1, 0, version)

    return min(same, key=order, default=None)


def azml_settle_on_first(
    client, model_name: str, registered, source: str, content_hash: str, model_type: str,
    props: dict,
) -> tuple:
    # (the version to return, reused) after this run registered `registered` because its
    # listing showed no version holding these files. Runs registering the same files at the
    # same time all list before any of them writes, and each writes a version of its own: Azure
    # has no conditional create for a model version (the REST API spec's
    # ModelVersions_CreateOrUpdate, Microsoft.MachineLearningServices mfe.json, takes the path,
    # api-version and body only: no If-None-Match, and the version is chosen by the client), so
    # list-then-create cannot be made atomic. So the run lists again and returns the first
    # version holding these files (azml_first_same). Auto versions are taken in order (a version
    # is written only after the versions below it exist; azml_register_new_version), so every
    # run's second listing holds the first one and they all return it. The run that wrote the
    # version it first picked from its listing (no retry) holds that first one itself: it
    # skips this listing (azml_register_model). The run's own version
    # is left as it is: it holds the same files, and deleting anything another run may have
    # returned is not safe. A failed second listing returns the run's own version.
    try:
        versions = azml_model_versions(client, model_name)
    except RuntimeError as error:
        print(f"Listing versions of {model_name!r} again failed ({error}); keeping the new one")
        return registered, False
    first = azml_first_same(
        azml_content_matches(versions, source, content_hash, model_type, props)
    )
    if first is None or str(first[0].version) == str(registered.version):
        return registered, False
    print(
        f"Version {first[0].version} of {model_name!r}, registered at the same time by another "
        f"run, holds these files too: returning it (version {registered.version} stays)"
    )
    return first[0], True


def azml_register_new_version(
    client, model_name: str, model_version: str, source: str, content_hash: str,
    model_type: str, description: str, tags: dict, props: dict, timeout_seconds: int,
    listed=None,
):
    # An explicit model_version is registered as given (a version that exists with other
    # content fails: versions are immutable). Without one, the next free version is taken;
    # when another run takes it first (concurrent pipelines registering the same name), this
    # run takes the next one, so N runs give N versions. The SDK picks the next version on the
    # client and fails on such a race; and a registration whose content equals another's
    # would update that version's tags in place. So each auto-versioned registration carries a
    # unique property (azml_registration_id; Azure keeps properties immutable), is never
    # written over an existing version, and retries a version another run took, up to 12
    # times with jittered pauses, within timeout_seconds.
    import random
    import time
    import uuid

    from azure.ai.ml.entities import Model

    props = dict(props)
    registration = "" if model_version else uuid.uuid4().hex
    if registration:
        props["azml_registration_id"] = registration
    deadline = time.monotonic() + timeout_seconds
    path, tried, registered = source, 0, None
    for attempt in range(12):
        version = model_version or azml_next_version(  # first pick: the listing while hashing
            client, model_name, tried, listed if attempt == 0 else None)
        if not model_version and azml_version_holder(client, model_name, version) is not None:
            tried = int(version)
            continue
        model = Model(
            name=model_name,
            version=version,
            path=path,
            type=model_type,
            description=description or None,
            tags=tags,
            properties=props,
        )
        if content_hash and path == source:
            model._upload_hash = content_hash  # the SDK uploads under it without hashing again
        try:
            registered = azml_wait(
                f"registering model {model_name!r} version {version}",
                lambda model=model: client.models.create_or_update(model),
                max(1, int(deadline - time.monotonic())),
            )
            break
        except RuntimeError as error:
            if azml_upload_race(error):  # the same version again: the files are there now
                print(f"Another run uploaded these files at the same moment; again: {version}")
                time.sleep(random.uniform(0.1, 0.5) * min(2**attempt, 8))
                continue
            # The SDK uploaded the files and pointed the entity at them: a retry reuses them.
            path = str(model.path)
            if model_version:
                raise RuntimeError(
                    f"{error} (model_version: {model_version!r} is registered as given, never "
                    "as another version; leave it empty to take the next free version)"
                ) from error
            holder = azml_version_holder(client, model_name, version)
            if holder == registration:  # written after all (an answer lost on the way back)
                registered = azml_call(
                    f"reading model {model_name}:{version}", client.models.get, model_name,
                    version,
                )
                break
            if holder is None:
                raise
            tried = int(version)
            print(f"Version {version} of {model_name!r} was taken by another run; trying the next")
            time.sleep(random.uniform(0.1, 0.5) * min(2**attempt, 8))
    if registered is None:
        raise RuntimeError(
            f"registering model {model_name!r}: every version tried ({tried} the last) was taken "
            "by other runs registering the same name at the same time; run it again"
        )
    return registered


def azml_upload_race(error: BaseException) -> bool:
    # Whether a registration failed because another run uploaded the same files (the same
    # LocalUpload/<content hash> folder) at the same moment. The SDK uploads a file it did not
    # find without overwrite (azure-ai-ml 1.35, _blob_storage_helper.py: check_blob_exists,
    # then upload_file), so the later of two such uploads is Azure Storage's 409
    # BlobAlreadyExists. Registering again finds the blob: confirmed, the SDK reuses it;
    # unconfirmed, it writes the same bytes over it.
    cause = getattr(error, "__cause__", None)
    return azml_enum_text(getattr(cause, "error_code", "") or "") == "BlobAlreadyExists"


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
