# Looking up, before the first write, what an input names in the workspace, so that a missing
# thing is a ValueError naming the field where Azure would refuse it only later (at a
# deployment's PUT, or in a job that already started). Reads only.
from azml_components.runtime.azure_client import azml_registry_client
from azml_components.runtime.calls import azml_call, azml_enum_text, azml_get_or_none
from azml_components.runtime.validation import azml_parse_registry_asset


def azml_read_registered_model(client, model_id: str):
    # The registered model version model_id names (azureml:NAME:VERSION or its ARM id, as
    # azml_check_model_id admits).
    registry = azml_parse_registry_asset(model_id, "models")
    if registry is not None:  # read through the registry's own client (discovery first)
        registry_name, name, version = registry
        model = azml_get_or_none(
            f"reading model {model_id}",
            lambda: azml_registry_client(registry_name, "model_id").models.get(name, version),
        )
        if model is None:
            raise ValueError(f"model_id: {model_id!r} is not in registry {registry_name!r}")
        return model
    if model_id.startswith("azureml:"):
        _, name, version = model_id.split(":")
    else:
        parts = model_id.split("/")
        name, version = parts[-3], parts[-1]
    # A 404 is checked not to be about the workspace itself (azml_missing_scope). Azure would
    # refuse a missing model only at the deployment's PUT, after the code was uploaded.
    model = azml_get_or_none(
        f"reading model {model_id}", lambda: client.models.get(name, version=version),
        client=client,
    )
    if model is None:
        raise ValueError(f"model_id: {model_id!r} is not registered in this workspace")
    return model


def azml_datastore_contents(client, datastore: str, path: str, what: str):
    # What the workspace's blob datastore `datastore` holds at `path`: (a file at path, files
    # under path/), or None when the datastore is not a blob store (not looked into). Reads only:
    # the datastore with its credential (a POST listSecrets, as the SDK's own upload does) and a
    # blob listing; the same look as register_model's azml_check_model_uri_exists.
    from azure.storage.blob import ContainerClient

    store = azml_call(
        f"reading datastore {datastore!r} for {what}",
        lambda: client.datastores.get(datastore, include_secrets=True),
    )
    # The SDK's DatastoreType.AZURE_BLOB has the value "AzureBlob" (azure-ai-ml 1.35), the REST
    # spec's datastoreType; compared without case and '_' so either spelling is a blob store.
    kind = azml_enum_text(getattr(store, "type", "") or "")
    if kind.replace("_", "").lower() != "azureblob":
        return None
    credentials = getattr(store, "credentials", None)
    secret = getattr(credentials, "account_key", None) or getattr(credentials, "sas_token", None)
    account_url = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    container = ContainerClient(account_url, store.container_name, credential=secret or None)

    def found() -> tuple:
        is_file = is_folder = False
        for blob in container.list_blobs(name_starts_with=path, timeout=60):
            is_file = is_file or blob.name == path
            is_folder = is_folder or blob.name.startswith(path + "/")
            if is_file and is_folder:
                break
        return is_file, is_folder

    with container:
        return azml_call(f"looking for {what}", found)
