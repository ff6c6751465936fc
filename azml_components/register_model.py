"""The register_model component."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.command_jobs import azml_job_output_model
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.registries import azml_register_in_registry


@azure_component
def register_model(
    model_name: str,
    resource_group: str,
    workspace_name: str,
    registered_model: dsl.Output[dsl.Model],
    model: Optional[dsl.Input[dsl.Model]] = None,
    model_uri: str = "",
    model_type: str = "custom_model",
    model_version: str = "",
    description: str = "",
    tags: dict = {},  # noqa: B006 - KFP reads defaults from the signature; never mutated
    properties: dict = {},  # noqa: B006
    subscription_id: str = "",
    timeout_seconds: int = 1800,
    force_new_version: bool = False,
    registry_name: str = "",
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_name: str = dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("model_name", str), ("model_version", str)]):
    """Register a model version in an Azure Machine Learning workspace.

    The model comes either from an upstream task's Model artifact (its files are uploaded to the
    workspace's default datastore) or from storage it already lives in (``model_uri``). The run
    that registered it is recorded in the tags ``kfp_run_id``, ``kfp_pipeline`` and
    ``kfp_source_uri``. When an active version of the same name already holds exactly these files
    (the SDK's content hash of the upload, same model_type and properties), that version is
    returned with no write to Azure and no upload: the output's metadata says ``reused: true``,
    and the version's tags keep the run that first registered it. When several versions hold
    them, the lowest-numbered one is returned; runs registering the same files at the same time
    all return one version (each may leave a version of its own holding the same files).
    Credentials come from the ``azcreds`` secret (see ``use_azure_credentials``) or the pod's
    workload/managed identity.

    Args:
        model_name: Name of the model in the workspace (letters, digits, '-' and '_').
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        model: Model artifact (a file or a folder) from an upstream task, or run_command_job's
            model output: that one is registered from the job's output in Azure, with no
            download or upload, as its asset type (mlflow_model, custom_model), and the job's
            name goes into the tags (azureml_job_name). Give this or model_uri.
        model_uri: Existing model location (azureml://, https://, wasbs:// or abfss://). Give
            this or model.
        model_type: One of custom_model, mlflow_model (the folder holds an MLmodel file) or
            triton_model.
        model_version: Version to create; empty means the next free version number. A version
            that already exists is returned as it is (``reused: true``, no write) when it holds
            these files with the same model_type and properties, and refused before any upload
            when it holds other content (versions are immutable).
        description: Description shown in Azure ML studio.
        tags: Extra tags (string values; other values are stored as JSON).
        properties: Extra properties (immutable after registration).
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long the upload and registration may take.
        force_new_version: Register a new version even when one of the same name already holds
            identical files (otherwise that version is reused). With an explicit model_version
            that already exists, the task fails before any write.
        registry_name: Register into this Azure ML registry instead of the workspace (the model
            artifact only, not model_uri; resource_group and workspace_name are then not used).
            A registry version holding these files (same model_type and properties) is reused;
            one holding other content under model_version fails the task before any upload.
            The output's asset_id is then azureml://registries/REGISTRY/models/NAME/versions/V.
        pipeline_run_id: KFP run id recorded as lineage (filled in by KFP).
        pipeline_name: KFP pipeline job name recorded as lineage (filled in by KFP).

    Returns:
        registered_model: The registered model (output); its metadata carries name, version,
            asset_id (azureml:NAME:VERSION), arm_id, model_type, path, studio_url (a link to
            the model in Azure ML studio) and reused (true when an existing version with the
            same files was returned instead of a new one).
        model_name: The registered model's name.
        model_version: The registered model's version.

    """
    from collections import namedtuple

    model_path = model.path if model is not None else ""
    source_uri = model.uri if model is not None else model_uri
    job_output = azml_job_output_model(model.metadata if model is not None else None,
                                       model_uri, model_type)
    if job_output:  # a run_command_job output: registered where the job wrote it, no transfer
        model_path, model_uri, model_type = "", job_output["uri"], job_output["model_type"]
        source_uri = model_uri
    lineage = {
        "kfp_run_id": pipeline_run_id,
        "kfp_pipeline": pipeline_name,
        "kfp_source_uri": source_uri,
        "azureml_job_name": job_output.get("job_name", "") if job_output else "",
    }
    if registry_name:
        result = azml_register_in_registry(
            registry_name=registry_name, model_name=model_name, model_path=model_path,
            model_type=model_type, model_version=model_version, description=description,
            tags=tags, properties=properties, lineage=lineage, timeout_seconds=timeout_seconds,
            model_uri=model_uri,
        )
    else:
        result = azml_register_model(
            subscription_id=subscription_id,
            resource_group=resource_group,
            workspace_name=workspace_name,
            model_name=model_name,
            model_path=model_path,
            model_uri=model_uri,
            model_type=model_type,
            model_version=model_version,
            description=description,
            tags=tags,
            properties=properties,
            lineage=lineage,
            timeout_seconds=timeout_seconds,
            force_new_version=force_new_version,
        )
    # The artifact's uri stays the storage URI KFP assigned: the KFP 2.x launcher rejects any
    # other scheme on the next task's inputs (see kfp-backend-facts); links go in metadata.
    registered_model.metadata.update(
        {
            k: result.get(k, "")
            for k in (
                "name", "version", "asset_id", "arm_id", "model_type", "path", "studio_url",
                "reused",
            )
        }
    )
    if result["reused"]:
        print(
            f"Reused {result['asset_id']}: it holds these exact files (registered by run "
            f"{result['tags'].get('kfp_run_id', 'unknown')}); no new version"
        )
    else:
        print(f"Registered {result['asset_id']} ({result['arm_id']})")
    outputs = namedtuple("Outputs", ["model_name", "model_version"])
    return outputs(result["name"], result["version"])
