# Endpoint housekeeping: traffic changes and deletions, each checked before it is written.


from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.deploy import azml_get_or_none, azml_set_traffic
from azml_components.runtime.calls import azml_call, azml_wait
from azml_components.runtime.traffic import azml_check_traffic, azml_traffic_of
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


def azml_parse_traffic(field: str, value) -> dict:
    # KFP hands dict parameters over as dicts; a JSON string is accepted too.
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as error:
            raise ValueError(f"{field}: not a JSON object of deployment -> percent") from error
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must map deployment names to whole percents")
    result = {}
    for name, percent in value.items():
        azml_check_online_name(f"{field} deployment", name)
        if isinstance(percent, float) and percent.is_integer():
            percent = int(percent)  # KFP passes numbers inside dicts as floats
        azml_check_range(f"{field}[{name}]", percent, 0, 100)
        result[name] = percent
    return result


def azml_update_traffic(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    traffic,
    mirror_traffic=None,
    timeout_seconds: int = 1800,
) -> dict:
    # Set live (and optionally mirror) traffic; every rule is checked against the endpoint's
    # real deployments before the PUT.
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    live = azml_parse_traffic("traffic", traffic)
    mirror = (
        None if mirror_traffic is None else azml_parse_traffic("mirror_traffic", mirror_traffic)
    )
    client = azml_ml_client(azml_subscription_id(subscription_id), resource_group, workspace_name)
    endpoint = azml_call(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    deployments = [
        d.name
        for d in azml_call(
            f"listing deployments of {endpoint_name!r}",
            lambda: list(client.online_deployments.list(endpoint_name)),
        )
    ]
    before, before_mirror = azml_traffic_of(endpoint)
    azml_check_traffic(live, mirror if mirror is not None else before_mirror, deployments)
    # Names match Azure's way, ignoring case; deployments left out get 0, as in the portal.
    given = {name.lower(): percent for name, percent in live.items()}
    full = {name: given.get(name.lower(), 0) for name in deployments}
    updated = azml_set_traffic(client, endpoint, full, mirror, timeout_seconds)
    after, after_mirror = azml_traffic_of(updated)
    return {
        "endpoint_name": endpoint_name,
        "traffic_before": before,
        "mirror_traffic_before": before_mirror,
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
) -> bool:
    # Refuses to delete a deployment that still takes live traffic (Azure would too, later).
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    client = azml_ml_client(azml_subscription_id(subscription_id), resource_group, workspace_name)
    endpoint = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
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
    azml_wait(
        f"deleting deployment {endpoint_name}/{deployment_name}",
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
) -> bool:
    # Deletes the endpoint with every deployment under it.
    azml_check_online_name("endpoint_name", endpoint_name)
    client = azml_ml_client(azml_subscription_id(subscription_id), resource_group, workspace_name)
    endpoint = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    if endpoint is None:
        if missing_ok:
            print(f"Endpoint {endpoint_name} does not exist; nothing to do")
            return False
        raise ValueError(f"endpoint_name: {endpoint_name!r} does not exist")
    azml_wait(
        f"deleting endpoint {endpoint_name}",
        lambda: client.online_endpoints.begin_delete(endpoint_name).result(),
        timeout_seconds,
    )
    return True
