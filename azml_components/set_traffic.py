"""The set_traffic component."""

from typing import NamedTuple

from kfp import dsl

from azml_components._component import azure_component
from azml_components.runtime.endpoints import azml_update_traffic


@azure_component
def set_traffic(
    endpoint_name: str,
    traffic: dict,
    resource_group: str,
    workspace_name: str,
    endpoint: dsl.Output[dsl.Artifact],
    mirror_traffic: dict = {},  # noqa: B006 - KFP reads defaults; never mutated
    keep_mirror: bool = True,
    subscription_id: str = "",
    timeout_seconds: int = 1800,
) -> NamedTuple("Outputs", [("scoring_uri", str)]):
    """Set an online endpoint's live and mirror traffic.

    The new maps are checked against Azure's rules before anything is written: every named
    deployment exists, live traffic sums to 100 (or is all 0), mirror traffic goes to one
    deployment, at most 50%, and not to one that takes live traffic. Deployments left out of
    ``traffic`` get 0%.

    Args:
        endpoint_name: Online endpoint to change.
        traffic: Live traffic as deployment name -> whole percent, e.g. {"blue": 90,
            "green": 10}.
        resource_group: Resource group of the Azure ML workspace.
        workspace_name: Name of the Azure ML workspace.
        mirror_traffic: Mirror (shadow) traffic as deployment name -> percent (at most 50, one
            deployment; managed endpoints only, Azure does not mirror on Kubernetes ones); used
            when keep_mirror is False or the map is not empty.
        keep_mirror: Leave the endpoint's mirror traffic as it is when mirror_traffic is empty.
        subscription_id: Azure subscription id; empty means AZ_SUBSCRIPTION_ID from azcreds.
        timeout_seconds: How long the update may take.

    Returns:
        endpoint: The endpoint; metadata carries endpoint_name, traffic_before,
            mirror_traffic_before, traffic, mirror_traffic, scoring_uri and endpoint_id.
        scoring_uri: The endpoint's scoring URI.

    """
    from collections import namedtuple

    mirror = None if keep_mirror and not mirror_traffic else mirror_traffic
    result = azml_update_traffic(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        endpoint_name=endpoint_name,
        traffic=traffic,
        mirror_traffic=mirror,
        timeout_seconds=timeout_seconds,
    )
    # The uri stays the storage URI KFP assigned; the scoring URI is metadata.
    endpoint.metadata.update(result)
    print(
        f"{endpoint_name}: traffic {result['traffic_before']} -> {result['traffic']}, "
        f"mirror {result['mirror_traffic_before']} -> {result['mirror_traffic']}"
    )
    outputs = namedtuple("Outputs", ["scoring_uri"])
    return outputs(result["scoring_uri"])
