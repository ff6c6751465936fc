"""The promote_model component."""

from typing import NamedTuple, Optional

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.inputs import azml_model_id_input
from azml_components.runtime.registries import azml_promote_model


@azure_component
def promote_model(
    resource_group: str,
    workspace_name: str,
    registry_name: str,
    promoted_model: dsl.Output[dsl.Model],
    registered_model: Optional[dsl.Input[dsl.Model]] = None,
    model_id: str = "",
    registry_model_name: str = "",
    registry_model_version: str = "",
    subscription_id: str = "",
    timeout_seconds: int = 1800,
    pipeline_run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER,
    pipeline_name: str = dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
) -> NamedTuple("Outputs", [("model_id", str), ("model_version", str)]):
    """Promote a registered model version from a workspace into an Azure Machine Learning registry.

    The workspace version's files are copied into the registry's own storage and registered
    there under the same name and version (unless given others), with the same model type,
    description, tags and properties, plus the promotion's lineage as properties (immutable in a
    registry): ``azml_source_model_id`` (the workspace version's ARM id),
    ``azml_source_workspace``, ``kfp_run_id`` and ``kfp_pipeline``. A registry version that a
    promotion of this very workspace version made is returned with no write (``reused: true``);
    a registry version holding anything else under the requested name and version fails the
    task before any write: registry versions are immutable. Any workspace, subscription or
    resource group the credentials reach can then deploy it by its registry id. Credentials come
    from the ``azcreds`` secret (see ``use_azure_credentials``) or the pod's workload/managed
    identity; they must reach both the workspace and the registry.

    Args:
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        registry_name: The Azure ML registry to promote into (3-33 characters: letters, digits,
            '-' and '_', starting with a letter or digit).
        registered_model: The registered_model output of register_model. Give this or model_id.
        model_id: The workspace model version as azureml:NAME:VERSION or its ARM id. Give this
            or registered_model.
        registry_model_name: Name in the registry; empty keeps the workspace name.
        registry_model_version: Version in the registry; empty keeps the workspace version.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long the copy into the registry may take.
        pipeline_run_id: KFP run id recorded as lineage (filled in by KFP).
        pipeline_name: KFP pipeline job name recorded as lineage (filled in by KFP).

    Returns:
        promoted_model: The registry's model version (output); its metadata carries name,
            version, asset_id and arm_id (both
            azureml://registries/REGISTRY/models/NAME/versions/VERSION, what deploy_model,
            safe_rollout and deploy_batch_model take), registry_name, model_type,
            source_model_id, path and reused.
        model_id: The registry model id (azureml://registries/REGISTRY/models/NAME/versions/V).
        model_version: The registry model's version.

    """
    from collections import namedtuple

    result = azml_promote_model(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        model_id=azml_model_id_input(registered_model, model_id),
        registry_name=registry_name,
        registry_model_name=registry_model_name,
        registry_model_version=registry_model_version,
        lineage={"kfp_run_id": pipeline_run_id, "kfp_pipeline": pipeline_name},
        timeout_seconds=timeout_seconds,
    )
    # The artifact's uri stays the storage URI KFP assigned (see kfp-backend-facts).
    promoted_model.metadata.update(
        {
            k: result[k]
            for k in (
                "name", "version", "asset_id", "arm_id", "registry_name", "model_type",
                "source_model_id", "path", "reused",
            )
        }
    )
    if result["reused"]:
        print(f"Reused {result['asset_id']}: a promotion of {result['source_model_id']} made it")
    else:
        print(f"Promoted {result['source_model_id']} to {result['asset_id']}")
    outputs = namedtuple("Outputs", ["model_id", "model_version"])
    return outputs(result["asset_id"], result["version"])
