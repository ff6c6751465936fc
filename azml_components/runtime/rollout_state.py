# A rollout's record on its endpoint, so that a crashed or cancelled rollout can be undone by
# anyone later. On a KFP cluster a cancel kills the pod within about a second (the launcher
# handles no signal) and a node can die, so nothing may depend on the rollout's own process
# cleaning up. The record lives in the endpoint's ARM tags: written before the rollout changes
# anything, renewed in each PUT that moves traffic, removed in the rollout's last write.
# safe_rollout and deploy_model undo an unfinished rollout on their endpoint before anything
# new; the recover_rollout component does it as a pipeline's dsl.ExitHandler clean-up.
#
# Azure's tag rules (learn.microsoft.com/azure/azure-resource-manager/management/tag-resources,
# "Limitations"; github.com/Azure/azure-resource-manager-rpc v1.0/resource-api-reference.md):
# at most 50 tags on a resource, names up to 512 characters without < > % & \ ? / or control
# characters, values up to 256 characters, names compared ignoring case. Tags are updatable in
# place: a TrackedResource field without x-ms-mutability limits (azure-rest-api-specs,
# common-types/resource-management/v3/types.json), in the endpoint PUT body and its PATCH body
# (PartialMinimalTrackedResourceWithIdentity, machinelearningservices stable/2024-04-01
# mfe.json). azure-ai-ml sends them in the endpoint PUT (OnlineEndpoint._to_rest_online_endpoint),
# the same PUT that carries the traffic.
from typing import Optional

from azml_components.runtime.autoscale import azml_online_deployment_id, azml_remove_autoscale
from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.calls import (
    azml_call,
    azml_get_or_none,
    azml_wait_until_idle,
    azml_when_idle,
)
from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_plan_traffic,
    azml_same_live_traffic,
    azml_set_traffic,
    azml_traffic_of,
)
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


def azml_rollout_tag_prefix() -> str:
    # Every tag of the record starts with this; the user's own tags are left as they are.
    return "azml-rollout-"


def azml_check_tags(field: str, tags: dict) -> None:
    # Azure's tag limits (see the top of this module), checked before the write that would
    # break them.
    if len(tags) > 50:
        raise ValueError(
            f"{field}: {len(tags)} tags; Azure allows at most 50 on a resource (the rollout "
            "record needs up to 10 of them)"
        )
    for name, value in tags.items():
        name = str(name)
        if len(name) > 512 or any(c in "<>%&\\?/" or ord(c) < 32 or ord(c) == 127 for c in name):
            raise ValueError(
                f"{field}: tag name {name[:60]!r} must have at most 512 characters and none of "
                "< > % & \\ ? / or control characters"
            )
        if len(str(value)) > 256:
            raise ValueError(f"{field}: the value of tag {name!r} is longer than 256 characters")


def azml_kfp_value(field: str, value: str, limit: int) -> str:
    # A run or task placeholder as KFP filled it in, or "" when it did not: the backend fills
    # {{$.pipeline_job_uuid}} and {{$.pipeline_task_name}} only when they are task arguments
    # (2.5 and newer, backend/src/v2/driver/resolve.go); a component default stays literal.
    text = str(value or "").strip()
    if not text or text.startswith("{{$"):
        return ""
    if len(text) > limit:
        raise ValueError(f"{field}: {text[:40]!r}... must be at most {limit} characters")
    return text


def azml_rollout_owner(pipeline_run_id: str) -> str:
    # Who owns a rollout: the KFP run id when KFP filled it in (the run's exit task and a retry
    # of the task then count as the owner), otherwise one of a kind for this process (only its
    # expiry, or force, lets anyone else undo it).
    import os
    import socket
    import uuid

    run_id = azml_kfp_value("pipeline_run_id", pipeline_run_id, 128)
    if run_id:
        return run_id
    return f"{socket.gethostname()[:63]}/pid {os.getpid()}/{uuid.uuid4().hex[:8]}"


def azml_rollout_record(
    deployment_name: str,
    owner: str,
    created_endpoint: bool,
    traffic: dict,
    mirror: dict,
    timeout_seconds: int,
) -> dict:
    # What a rollout records, stamped now. Until `expires` the owner counts as alive: it writes
    # again within three of its timeouts (before the first traffic move come the model's code
    # download, the deployment and a smoke test, each bounded by timeout_seconds). Only the
    # non-zero weights are kept: a 0% entry and none are the same to Azure.
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    return {
        "deployment": deployment_name,
        "owner": owner,
        "created_endpoint": bool(created_endpoint),
        "traffic": {k: int(v) for k, v in sorted(traffic.items()) if v},
        "mirror": {k: int(v) for k, v in sorted(mirror.items()) if v},
        "updated": now.isoformat().replace("+00:00", "Z"),
        "expires": (now + timedelta(seconds=3 * timeout_seconds)).isoformat().replace(
            "+00:00", "Z"
        ),
        "timeout_seconds": timeout_seconds,
    }


def azml_renew_rollout(record: dict) -> dict:
    # The same record, stamped now (each traffic move renews it in the PUT it makes anyway).
    return azml_rollout_record(
        record["deployment"], record["owner"], record["created_endpoint"], record["traffic"],
        record["mirror"], record["timeout_seconds"],
    )


def azml_without_rollout_tags(tags: Optional[dict]) -> dict:
    # The endpoint's other tags. Tag names ignore case in Azure, so the prefix does too.
    prefix = azml_rollout_tag_prefix()
    return {k: v for k, v in (tags or {}).items() if not str(k).lower().startswith(prefix)}


def azml_tags_with_rollout(tags: Optional[dict], record: dict) -> dict:
    # The endpoint's other tags plus the record. A tag value holds at most 256 characters and
    # the traffic before the rollout may not fit (Azure ML allows 20 deployments per endpoint,
    # how-to-manage-quotas; names up to 32 characters), so the traffic goes as JSON split over
    # numbered tags: at most 4 of them, 10 tags in all.
    import json

    prefix = azml_rollout_tag_prefix()
    traffic = json.dumps(
        {"live": record["traffic"], "mirror": record["mirror"]}, separators=(",", ":")
    )
    written = {
        prefix + "deployment": record["deployment"],
        prefix + "owner": record["owner"],
        prefix + "created-endpoint": "true" if record["created_endpoint"] else "false",
        prefix + "updated": record["updated"],
        prefix + "expires": record["expires"],
        prefix + "timeout": str(record["timeout_seconds"]),
    }
    for part, start in enumerate(range(0, len(traffic), 256), start=1):
        written[f"{prefix}traffic-{part}"] = traffic[start : start + 256]
    merged = {**azml_without_rollout_tags(tags), **written}
    azml_check_tags("endpoint tags", merged)
    return merged


def azml_read_rollout(endpoint_name: str, tags: Optional[dict]) -> Optional[dict]:
    # The record on an endpoint, or None when no rollout is unfinished there.
    import json
    from datetime import datetime

    prefix = azml_rollout_tag_prefix()
    found = {str(k).lower(): str(v) for k, v in (tags or {}).items()}
    if prefix + "deployment" not in found:
        return None
    parts = []
    while f"{prefix}traffic-{len(parts) + 1}" in found:
        parts.append(found[f"{prefix}traffic-{len(parts) + 1}"])
    try:
        traffic = json.loads("".join(parts))
        record = {
            "deployment": found[prefix + "deployment"],
            "owner": found[prefix + "owner"],
            "created_endpoint": found[prefix + "created-endpoint"] == "true",
            "traffic": {str(k): int(v) for k, v in traffic["live"].items()},
            "mirror": {str(k): int(v) for k, v in traffic["mirror"].items()},
            "updated": found[prefix + "updated"],
            "expires": found[prefix + "expires"],
            "timeout_seconds": int(found[prefix + "timeout"]),
        }
        datetime.fromisoformat(record["expires"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RuntimeError(
            f"endpoint {endpoint_name!r} carries a rollout record ({prefix}* tags) that cannot "
            f"be read ({type(error).__name__}: {error}); check its traffic and deployments, then "
            f"remove the {prefix}* tags by hand"
        ) from error
    return record


def azml_settled_endpoint(client, endpoint_name: str, timeout_seconds: int):
    # The endpoint once no operation runs on it (a crashed owner's last traffic PUT may still be
    # in progress); None when it is gone.
    return azml_wait_until_idle(
        f"endpoint {endpoint_name!r}", lambda: client.online_endpoints.get(endpoint_name),
        timeout_seconds, poll_seconds=2,
    )


def azml_restore_plan(record: dict, deployments: list) -> tuple:
    # The live and mirror traffic from before the rollout, for the deployments that still
    # exist, spelled as they are. If one of them is gone, the others keep their proportions of
    # 100% (Azure wants live traffic to sum to 100 or all be 0).
    names = {d.lower(): d for d in deployments}
    new = record["deployment"].lower()
    kept = {names[n.lower()]: p for n, p in record["traffic"].items()
            if n.lower() in names and n.lower() != new}
    live = azml_plan_traffic(kept, record["deployment"], 0)
    live = {n: p for n, p in live.items() if n.lower() in names}
    mirror = {names[n.lower()]: p for n, p in record["mirror"].items()
              if n.lower() in names and n.lower() != new and p}
    return live, mirror


def azml_rollout_may_be_undone(record: dict, owner: str, force: bool) -> bool:
    # This run's own rollout, an expired one (its owner stopped renewing it), or force.
    from datetime import datetime, timezone

    expires = datetime.fromisoformat(record["expires"].replace("Z", "+00:00"))
    mine = bool(owner) and owner == record["owner"]
    return mine or force or datetime.now(timezone.utc) >= expires


def azml_live_rollout_message(endpoint_name: str, record: dict) -> str:
    return (
        f"endpoint {endpoint_name!r} has an unfinished rollout of {record['deployment']!r} "
        f"owned by run {record['owner']!r} (last written {record['updated']}); that run "
        f"counts as alive until {record['expires']}. Wait for it, or once that run has "
        "stopped, undo its rollout with recover_rollout (force=True)"
    )


def azml_checked_restore_plan(endpoint_name: str, record: dict, deployments: list) -> tuple:
    # azml_restore_plan, refused before any write when the endpoint changed since (e.g. by hand)
    # so that the recorded traffic no longer fits it.
    live, mirror = azml_restore_plan(record, deployments)
    try:
        azml_check_traffic(live, mirror, deployments)
    except ValueError as error:
        raise RuntimeError(
            f"endpoint {endpoint_name!r}: the traffic recorded before the unfinished rollout "
            f"cannot be restored now ({error}); set the traffic by hand, delete deployment "
            f"{record['deployment']!r} and remove the {azml_rollout_tag_prefix()}* tags"
        ) from error
    return live, mirror


def azml_undo_recorded_rollout(
    client, endpoint_name: str, endpoint, record: dict, deployments: list, plan: tuple,
    timeout_seconds: int,
) -> list:
    # The writes of an undo, each after the one it depends on: traffic back, the half-made
    # deployment deleted, then the endpoint if the rollout created it and nothing else is on
    # it, else the record removed (last, so a crash in here leaves something the next call
    # finishes). Returns what it did.
    live, mirror = plan
    actions = []
    current, current_mirror = azml_traffic_of(endpoint)
    if not azml_same_live_traffic(current, live) or (
        {k.lower(): v for k, v in current_mirror.items() if v}
        != {k.lower(): v for k, v in mirror.items()}
    ):
        azml_set_traffic(client, endpoint, live, mirror, timeout_seconds)
        actions.append(
            f"restored live traffic {({k: v for k, v in live.items() if v})} and mirror "
            f"traffic {mirror}"
        )
    new = {d.lower(): d for d in deployments}.get(record["deployment"].lower())
    if new is not None:
        # Its autoscale setting first (Azure keeps a setting whose target is deleted).
        azml_remove_autoscale(client, azml_online_deployment_id(client, endpoint_name, new))
        azml_when_idle(
            f"deleting deployment {new!r} of the unfinished rollout",
            lambda: client.online_deployments.get(new, endpoint_name),
            lambda: client.online_deployments.begin_delete(new, endpoint_name).result(),
            timeout_seconds,
        )
        actions.append(f"deleted deployment {new}")
    if record["created_endpoint"] and not [d for d in deployments if d != new]:
        azml_when_idle(
            f"deleting endpoint {endpoint_name!r}, which the rollout created",
            lambda: client.online_endpoints.get(endpoint_name),
            lambda: client.online_endpoints.begin_delete(endpoint_name).result(),
            timeout_seconds,
        )
        actions.append(f"deleted endpoint {endpoint_name}, which the rollout created")
        return actions
    endpoint = azml_call(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    endpoint.tags = azml_without_rollout_tags(endpoint.tags)
    azml_when_idle(
        f"removing the rollout record from endpoint {endpoint_name!r}",
        lambda: client.online_endpoints.get(endpoint_name),
        lambda: client.online_endpoints.begin_create_or_update(endpoint).result(),
        timeout_seconds,
    )
    actions.append("removed the rollout record")
    return actions


def azml_recover_rollout(
    client,
    endpoint_name: str,
    owner: str,
    timeout_seconds: int,
    force: bool = False,
    refuse_live: bool = True,
) -> dict:
    # Undo an unfinished rollout on the endpoint (azml_undo_recorded_rollout). A rollout owned
    # by another run that has not expired is live: it is refused (or, with refuse_live=False,
    # left alone) before any write. Calling it again finds nothing to do.
    result = {"endpoint_name": endpoint_name, "found": False, "undone": False, "owner": "",
              "deployment_name": "", "actions": [], "traffic": {}, "mirror_traffic": {}}
    endpoint = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    record = azml_read_rollout(endpoint_name, endpoint.tags) if endpoint is not None else None
    if record is None:
        return result
    result.update(found=True, owner=record["owner"], deployment_name=record["deployment"])
    if not azml_rollout_may_be_undone(record, owner, force):
        message = azml_live_rollout_message(endpoint_name, record)
        if refuse_live:
            raise RuntimeError(message)
        result["actions"].append(f"left alone: {message}")
        print(result["actions"][-1])
        return result
    print(f"Undoing the unfinished rollout of {record['deployment']!r} on {endpoint_name!r} "
          f"(owner {record['owner']!r}, last written {record['updated']})")
    endpoint = azml_settled_endpoint(client, endpoint_name, timeout_seconds)
    if endpoint is None:  # deleted meanwhile: the record went with it
        return result
    deployments = azml_call(
        f"listing deployments of {endpoint_name!r}",
        lambda: [d.name for d in client.online_deployments.list(endpoint_name)],
    )
    live, mirror = azml_checked_restore_plan(endpoint_name, record, deployments)
    result.update(traffic={k: v for k, v in live.items() if v}, mirror_traffic=mirror)
    result["actions"] = azml_undo_recorded_rollout(
        client, endpoint_name, endpoint, record, deployments, (live, mirror), timeout_seconds
    )
    result["undone"] = True
    for line in result["actions"]:
        print(line)
    return result


def azml_recover_endpoint_rollout(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    pipeline_run_id: str = "",
    force: bool = False,
    timeout_seconds: int = 1800,
    client=None,
) -> dict:
    # The recover_rollout component: undo what a rollout of this run (or an expired one, or
    # with force any) left unfinished; a live rollout of another run is left alone.
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_range("timeout_seconds", timeout_seconds, 1)
    run_id = str(pipeline_run_id or "").strip()
    owner = azml_rollout_owner(run_id) if run_id and not run_id.startswith("{{$") else ""
    if client is None:  # else the run's one MLClient, made by the component
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    result = azml_recover_rollout(
        client, endpoint_name, owner, timeout_seconds, force=force, refuse_live=False
    )
    if not result["found"]:
        print(f"No unfinished rollout on endpoint {endpoint_name!r}; nothing to do")
    return result
