# Where a batch job's input comes from, besides a datastore path: a registered data asset
# (azureml:NAME:VERSION), read before the job is submitted, and a local dataset (a KFP Dataset
# artifact), uploaded once per content.
from azml_components.runtime.calls import azml_enum_text, azml_get_or_none, azml_wait
from azml_components.runtime.register import azml_content_hash


def azml_data_asset_kind(client, input_uri: str) -> str:
    # The type of the data asset azureml:NAME:VERSION names ("uri_file" or "uri_folder"), or ""
    # when input_uri names none. Reads only (GET workspaces/{ws}/data/{name}/versions/{version},
    # REST API spec DataVersions_Get). A missing version fails here: the SDK would read it at
    # the invoke anyway, with an error that names neither the input nor the asset. A batch model
    # deployment reads files: a data asset of type uri_file or uri_folder ("Create jobs and
    # input data for batch endpoints": an mltable asset feeds pipeline component deployments).
    import re

    match = re.fullmatch(r"azureml:([A-Za-z0-9][A-Za-z0-9_-]{0,254}):([^:/@]+)", input_uri)
    if not match:
        if input_uri.startswith("azureml:") and not input_uri.startswith("azureml://"):
            raise ValueError(
                f"input_uri: {input_uri!r} must name a data asset version as "
                "azureml:NAME:VERSION"
            )
        return ""
    name, version = match.groups()
    asset = azml_get_or_none(
        f"reading data asset {name}:{version}", client.data.get, name, version, client=client
    )
    if asset is None:
        raise ValueError(
            f"input_uri: data asset {name!r} has no version {version!r} in this workspace"
        )
    kind = azml_enum_text(getattr(asset, "type", "") or "")
    if kind not in ("uri_file", "uri_folder"):
        raise ValueError(
            f"input_uri: data asset {name}:{version} is of type {kind or 'unknown'}; a batch "
            "model deployment scores a uri_file or uri_folder data asset"
        )
    return kind


def azml_upload_once(client, input_path: str, timeout_seconds: int) -> str:
    # The azureml:// URI of a local file or folder on the workspace's default datastore,
    # uploaded as the SDK uploads a local model or job input: under LocalUpload/<the SDK's
    # content hash>/<name> (azure-ai-ml 1.35.2, _artifacts/_artifact_utilities.py
    # _upload_to_datastore, _blob_storage_helper.py). The hash is taken once here
    # (azml_content_hash, as register_model takes it) and handed to the SDK, which then does not
    # hash again; content the SDK finds already uploaded and confirmed there (its
    # check_blob_exists: the confirmation metadata on the upload's first file) is not sent
    # again. So a second run on the same data, or a retry of the task, uploads nothing and
    # scores the same URI (the job's identity, runtime/batch_jobs.py).
    import os

    from azure.ai.ml._artifacts._artifact_utilities import _upload_to_datastore
    from azure.ai.ml.exceptions import ErrorTarget

    content_hash = azml_wait(
        f"hashing the files of {input_path!r}", lambda: azml_content_hash(input_path),
        timeout_seconds,
    )
    from azure.core.exceptions import ResourceExistsError

    def upload():
        return _upload_to_datastore(
            client._operation_scope, client.datastores, input_path,
            artifact_type=ErrorTarget.ARTIFACT, datastore_name="workspaceblobstore",
            # With a progress bar only does the SDK look at each file's upload: without one, a
            # file whose upload failed is never counted and the SDK waits for it forever
            # (azure-ai-ml 1.35.2 _utils/_asset_utils.py upload_directory calls future.result()
            # only when show_progress; _blob_storage_helper.py upload loops until the count).
            # The SDK's own uploads (models, code) show it too: MLClient's default.
            show_progress=True, asset_hash=content_hash,
            # The name goes into the upload's confirmation metadata only (the SDK's own job
            # input upload gives a random one, _upload_and_generate_remote_uri).
            asset_name=content_hash,
        )

    def upload_or_take_over():
        try:
            return upload()
        except ResourceExistsError:
            # Another attempt of the task is uploading the same content: the SDK writes with
            # overwrite off (If-None-Match: *, 409 BlobAlreadyExists) until it finds an upload
            # without its confirmation. Asked again, it finds that upload: confirmed, nothing
            # is sent; not yet, it is written over with the same bytes and confirmed.
            return upload()

    uploaded = azml_wait(f"uploading {input_path!r} to the workspace's datastore",
                         upload_or_take_over, timeout_seconds)
    uri = f"azureml://datastores/workspaceblobstore/paths/{uploaded.relative_path}"
    return uri + "/" if os.path.isdir(input_path) else uri
