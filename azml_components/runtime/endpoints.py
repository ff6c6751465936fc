# An online endpoint's state (one read and one listing) and the changes made to a whole
# endpoint: setting its traffic, deleting a deployment, deleting the endpoint.

from azml_components.runtime.autoscale import azml_remove_autoscale
from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.calls import azml_call, azml_get_or_none, azml_when_idle
from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_fill_traffic,
    azml_parse_traffic,
    azml_set_traffic,
    azml_traffic_of,
)
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


def azml_endpoint_state(client, endpoint_name: str, must_exist: bool = False) -> dict:
    # What every change starts from: the endpoint entity, its live and mirror traffic and its
    # deployments (entities). A missing endpoint is an empty state unless it must exist.
    what = f"reading endpoint {endpoint_name!r}"
    if must_exist:
        endpoint = azml_call(what, client.online_endpoints.get, endpoint_name)
    else:
        endpoint = azml_get_or_none(
            what, client.online_endpoints.get, endpoint_name, client=client
        )
    if endpoint is None:
        return {"endpoint": None, "traffic": {}, "mirror": {}, "deployments": []}
    traffic, mirror = azml_traffic_of(endpoint)
    deployments = azml_call(
        f"listing deployments of {endpoint_name!r}",
        lambda: list(client.online_deployments.list(endpoint_name)),
    )
    return {"endpoint": endpoint, "traffic": traffic, "mirror": mirror, "deployments": deployments}


def azml_update_traffic(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    traffic,
    mirror_traffic=None,
    timeout_seconds: int = 1800,
    client=None,
) -> dict:
    # Set live (and optionally mirror) traffic; every rule is checked against the endpoint's
    # real deployments before the PUT.
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    live = azml_parse_traffic("traffic", traffic)
    if not live:
        # Deployments left out get 0%, so an empty map would silently take a live endpoint
        # out of service; that must be said explicitly.
        raise ValueError(
            "traffic: empty; give each deployment's share, e.g. {\"blue\": 100} (to stop "
            "serving, set every deployment to 0 by name)"
        )
    mirror = (
        None if mirror_traffic is None else azml_parse_traffic("mirror_traffic", mirror_traffic)
    )
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    state = azml_endpoint_state(client, endpoint_name, must_exist=True)
    compute = (getattr(state["endpoint"], "compute", None) or "").rsplit("/", 1)[-1]
    if compute and any((mirror or {}).values()):
        # "Mirroring isn't currently supported for Kubernetes online endpoints" (Microsoft's
        # safe-rollout article, how-to-safely-rollout-online-endpoints): Azure refuses the PUT.
        raise ValueError(
            f"mirror_traffic: endpoint {endpoint_name!r} is a Kubernetes online endpoint "
            f"(compute {compute!r}), which takes no mirror traffic; leave mirror_traffic empty"
        )
    names = [d.name for d in state["deployments"]]
    azml_check_traffic(live, mirror if mirror is not None else state["mirror"], names)
    updated = azml_set_traffic(
        client, state["endpoint"], azml_fill_traffic(live, names), mirror, timeout_seconds
    )
    after, after_mirror = azml_traffic_of(updated)
    return {
        "endpoint_name": endpoint_name,
        "traffic_before": state["traffic"],
        "mirror_traffic_before": state["mirror"],
        "traffic": after,
        "mirror_traffic": after_mirror,
        "scoring_uri": updated.scoring_uri,
        "endpoint_id": updated.id,
    }


def azml_delete_deployment(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    deployment_name: str,
    missing_ok: bool = True,
    timeout_seconds: int = 1800,
    client=None,
) -> bool:
    # Refuses to delete a deployment that still takes live traffic (Azure would too, later).
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    endpoint = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name,
        client=client,
    )
    deployment = None
    if endpoint is not None:
        deployment = azml_get_or_none(
            f"reading deployment {deployment_name!r}",
            client.online_deployments.get,
            deployment_name,
            endpoint_name,
        )
    if deployment is None:
        if missing_ok:
            print(f"Deployment {endpoint_name}/{deployment_name} does not exist; nothing to do")
            return False
        raise ValueError(
            f"deployment_name: {deployment_name!r} does not exist on endpoint {endpoint_name!r}"
        )
    live, mirror = azml_traffic_of(endpoint)
    share = {k.lower(): v for k, v in live.items()}.get(deployment_name.lower(), 0)
    if share:
        raise ValueError(
            f"deployment_name: {deployment_name!r} still takes {share}% of live "
            "traffic; move it to other deployments first (set_traffic)"
        )
    if {k.lower(): v for k, v in mirror.items()}.get(deployment_name.lower()):
        mirror = {k: v for k, v in mirror.items() if k.lower() != deployment_name.lower()}
        azml_set_traffic(client, endpoint, live, mirror, timeout_seconds)
    # Azure keeps an autoscale setting whose target is deleted: it goes first.
    for name in azml_remove_autoscale(client, deployment.id):
        print(f"Deleted autoscale setting {name} of deployment {deployment_name}")
    azml_when_idle(
        f"deleting deployment {endpoint_name}/{deployment_name}",
        lambda: client.online_deployments.get(deployment_name, endpoint_name),
        lambda: client.online_deployments.begin_delete(deployment_name, endpoint_name).result(),
        timeout_seconds,
    )
    return True


def azml_delete_endpoint(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    missing_ok: bool = True,
    timeout_seconds: int = 1800,
    client=None,
) -> bool:
    # Deletes the endpoint with every deployment under it.
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    endpoint = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name,
        client=client,
    )
    if endpoint is None:
        if missing_ok:
            print(f"Endpoint {endpoint_name} does not exist; nothing to do")
            return False
        raise ValueError(f"endpoint_name: {endpoint_name!r} does not exist")
    # The autoscale settings of its deployments first (Azure keeps them).
    for name in azml_remove_autoscale(client, endpoint.id):
        print(f"Deleted autoscale setting {name} of endpoint {endpoint_name}")
    azml_when_idle(
        f"deleting endpoint {endpoint_name}",
        lambda: client.online_endpoints.get(endpoint_name),
        lambda: client.online_endpoints.begin_delete(endpoint_name).result(),
        timeout_seconds,
    )
    return True
