"""The delete_deployment and delete_endpoint components (clean-up, e.g. in dsl.ExitHandler)."""

from typing import NamedTuple

from azml_components._component import azure_component
from azml_components.runtime.endpoints import azml_delete_deployment, azml_delete_endpoint


@azure_component
def delete_deployment(
    endpoint_name: str,
    deployment_name: str,
    resource_group: str,
    workspace_name: str,
    missing_ok: bool = True,
    subscription_id: str = "",
    timeout_seconds: int = 1800,
) -> NamedTuple("Outputs", [("deleted", bool)]):
    """Delete one deployment of an online endpoint.

    Refuses, before any write, to delete a deployment that still takes live traffic; a
    deployment that only receives mirror traffic has the mirror removed first.

    Args:
        endpoint_name: Online endpoint the deployment belongs to.
        deployment_name: Deployment to delete.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        missing_ok: Succeed without doing anything when the deployment (or endpoint) is gone.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long the deletion may take.

    Returns:
        deleted: True when a deployment was deleted, False when there was nothing to delete.

    """
    from collections import namedtuple

    deleted = azml_delete_deployment(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        deployment_name=deployment_name,
        missing_ok=missing_ok,
        timeout_seconds=timeout_seconds,
    )
    return namedtuple("Outputs", ["deleted"])(deleted)


@azure_component
def delete_endpoint(
    endpoint_name: str,
    resource_group: str,
    workspace_name: str,
    missing_ok: bool = True,
    subscription_id: str = "",
    timeout_seconds: int = 1800,
) -> NamedTuple("Outputs", [("deleted", bool)]):
    """Delete an online endpoint and every deployment under it.

    Meant for test endpoints, typically as the exit task of a ``dsl.ExitHandler`` so it runs
    even when the pipeline fails.

    Args:
        endpoint_name: Online endpoint to delete.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        missing_ok: Succeed without doing anything when the endpoint does not exist.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long the deletion may take.

    Returns:
        deleted: True when an endpoint was deleted, False when there was nothing to delete.

    """
    from collections import namedtuple

    deleted = azml_delete_endpoint(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        missing_ok=missing_ok,
        timeout_seconds=timeout_seconds,
    )
    return namedtuple("Outputs", ["deleted"])(deleted)
