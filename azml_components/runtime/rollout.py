# Safe blue/green rollout: deploy at 0%, test, shift in steps, roll back on any failure. In
# phases like deploy_model: check the inputs, undo what an earlier rollout left unfinished, read
# the endpoint, plan the traffic moves, record the rollout on the endpoint, apply the moves with
# smoke tests, undoing everything (azml_undo_and_raise) when a step fails. The record
# (runtime/rollout_state.py) lets a later run or an exit task undo a rollout whose process died.
from typing import Optional

from azml_components.runtime.autoscale import azml_online_deployment_id, azml_remove_autoscale
from azml_components.runtime.azure_client import azml_ml_client
from azml_components.runtime.calls import (
    azml_cleanup_seconds,
    azml_undo_and_raise,
    azml_wait,
    azml_when_idle,
)
from azml_components.runtime.deploy import (
    azml_check_deployment_inputs,
    azml_deploy_from_state,
    azml_lineage_tags,
    azml_plan_deployment,
    azml_read_deployment_state,
)
from azml_components.runtime.endpoints import azml_endpoint_state
from azml_components.runtime.invoke import azml_call_endpoint, azml_smoke_checks
from azml_components.runtime.records import (
    AzmlDeploymentOptions,
    AzmlDeploymentState,
    AzmlRolloutTarget,
)
from azml_components.runtime.rollout_state import (
    azml_recover_rollout,
    azml_renew_rollout,
    azml_rollout_owner,
    azml_rollout_record,
    azml_tags_with_rollout,
    azml_without_rollout_tags,
)
from azml_components.runtime.targets import azml_new_endpoint
from azml_components.runtime.traffic import (
    azml_plan_traffic,
    azml_set_traffic,
    azml_traffic_of,
)
from azml_components.runtime.validation import azml_check_range


def azml_check_steps(traffic_steps: list) -> list:
    # Whole percents, strictly rising, ending at 100.
    steps = []
    for step in traffic_steps or []:
        if isinstance(step, float) and step.is_integer():
            step = int(step)  # KFP passes list items as floats
        azml_check_range("traffic_steps item", step, 1, 100)
        steps.append(step)
    if (
        not steps
        or steps[-1] != 100
        or any(steps[i + 1] <= steps[i] for i in range(len(steps) - 1))
    ):
        raise ValueError(
            f"traffic_steps: {traffic_steps!r} must rise strictly and end at 100, "
            "e.g. [10, 50, 100]"
        )
    return steps


def azml_short_model_id(model_ref) -> str:
    # An ARM id or azureml:NAME:VERSION, shown as NAME:VERSION (or as given).
    return str(model_ref).split("/models/")[-1].replace("/versions/", ":")


def azml_plan_rollout(
    before: dict, before_mirror: dict, deployment_name: str, steps: list, mirror_percent: int
) -> list:
    # The traffic writes after the new deployment joined at 0%, each with the smoke tests
    # (target deployment, label) that follow it: optionally mirror live traffic to it and stop
    # again, then each step (the old deployments keep their proportions of the rest). The first
    # deployment of an endpoint has nothing to share with and goes straight to 100.
    moves = []
    if mirror_percent and any(before.values()):
        moves.append(
            {
                "traffic": before,
                "mirror": {deployment_name: mirror_percent},
                "log": f"mirrored {mirror_percent}% of live traffic to {deployment_name}",
                "smoke": [("", "live traffic while mirroring")],
            }
        )
        moves.append(
            {
                "traffic": before,
                "mirror": before_mirror,
                "log": "mirror traffic removed",
                "smoke": [],
            }
        )
    mirror = {k: v for k, v in before_mirror.items() if k.lower() != deployment_name.lower()}
    for step in steps:
        if not any(before.values()) and step < 100:
            continue
        traffic = azml_plan_traffic(before, deployment_name, step)
        moves.append(
            {
                "traffic": traffic,
                "mirror": mirror,
                "log": f"traffic {traffic}",
                "smoke": [
                    (deployment_name, f"{deployment_name} at {step}%"),
                    ("", f"endpoint at {step}%"),
                ],
            }
        )
    return moves


def azml_smoke_test(client, endpoint_name: str, target: str, label: str, smoke: dict):
    # One smoke test through the run's client (smoke: azml_call_endpoint's checked request and
    # checks); a failed check raises, a passed one returns the line for the rollout's log.
    answer = azml_call_endpoint(client, endpoint_name, target, **smoke)
    if answer["problems"]:
        raise RuntimeError(f"smoke test ({label}) failed: " + "; ".join(answer["problems"]))
    return f"smoke test ({label}): HTTP {answer['status']} in {answer['latency_ms']} ms"


def azml_begin_rollout(
    client, state: AzmlDeploymentState, endpoint_name: str, record: dict,
    options: AzmlDeploymentOptions, timeout_seconds: int,
) -> AzmlDeploymentState:
    # The record goes on the endpoint before anything else changes: in the PUT that creates a
    # new endpoint (managed, or Kubernetes on options' compute), or in a PUT that leaves an
    # existing one's traffic as it is. Returns the state with the endpoint as it now is.
    endpoint = state.endpoint
    if endpoint is None:
        endpoint = azml_new_endpoint(
            endpoint_name, options.auth_mode,
            azml_tags_with_rollout(
                {"created_by": "azml-components", **(options.endpoint_tags or {})}, record
            ),
            options.compute, options,
        )
        what = f"creating endpoint {endpoint_name!r} with the rollout record"
    else:
        endpoint.tags = azml_tags_with_rollout(endpoint.tags, record)
        what = f"recording the rollout on endpoint {endpoint_name!r}"
    azml_when_idle(
        what, lambda: client.online_endpoints.get(endpoint_name),
        lambda: client.online_endpoints.begin_create_or_update(endpoint).result(),
        timeout_seconds,
    )
    return state._replace(**azml_endpoint_state(client, endpoint_name))


def azml_end_rollout(client, endpoint_name: str, timeout_seconds: int) -> None:
    # The last write of a successful rollout: the record comes off, traffic stays.
    endpoint = client.online_endpoints.get(endpoint_name)
    endpoint.tags = azml_without_rollout_tags(endpoint.tags)
    azml_when_idle(
        f"removing the rollout record from endpoint {endpoint_name!r}",
        lambda: client.online_endpoints.get(endpoint_name),
        lambda: client.online_endpoints.begin_create_or_update(endpoint).result(),
        timeout_seconds,
    )


def azml_apply_rollout(
    client, target: AzmlRolloutTarget, options: AzmlDeploymentOptions, moves: list,
    smoke: dict, state: AzmlDeploymentState, record: dict, timeout_seconds: int, log: list,
) -> dict:
    # Records the rollout on the endpoint,
    # deploys at 0%, smoke-tests the new deployment directly, then makes each planned move
    # (renewing the record in the same PUT) with its smoke tests, and removes the record. On
    # any failure (SIGTERM included) the record is played back: the previous live and mirror
    # traffic come back and the new deployment is deleted. SIGTERM only sets a flag, checked
    # between steps: an exception raised inside a network call would be taken for a connection
    # error and retried by urllib3/azure-core. A crash, where no Python runs at all, leaves
    # the record for the next run or the exit task (azml_recover_rollout).
    import signal
    import threading

    endpoint_name, deployment_name = target.endpoint_name, target.deployment_name
    cancelled = []

    def check() -> None:
        if cancelled:
            raise InterruptedError("rollout cancelled by SIGTERM")

    in_main = threading.current_thread() is threading.main_thread()
    previous_handler = (
        signal.signal(signal.SIGTERM, lambda signum, frame: cancelled.append(signum))
        if in_main
        else None
    )
    try:
        state = azml_begin_rollout(client, state, endpoint_name, record, options, timeout_seconds)
        log.append(f"recorded the rollout of {deployment_name} on {endpoint_name}")
        check()
        # deploy_model's plan and writes, on the state read before the rollout (the endpoint
        # re-read after the record went on it) and with the same client.
        result = azml_deploy_from_state(
            client, endpoint_name, deployment_name, target.model_id, options, state, 0,
            timeout_seconds, target.lineage,
        )
        log.append(f"deployed {deployment_name} ({azml_short_model_id(target.model_id)}) at 0%")
        check()
        log.append(azml_smoke_test(
            client, endpoint_name, deployment_name, f"{deployment_name} directly", smoke
        ))
        check()
        for move in moves:
            endpoint = client.online_endpoints.get(endpoint_name)
            endpoint.tags = azml_tags_with_rollout(endpoint.tags, azml_renew_rollout(record))
            azml_set_traffic(client, endpoint, move["traffic"], move["mirror"], timeout_seconds)
            log.append(move["log"])
            check()
            for deployment, label in move["smoke"]:
                log.append(azml_smoke_test(client, endpoint_name, deployment, label, smoke))
            check()
        azml_end_rollout(client, endpoint_name, timeout_seconds)
        log.append("rollout record removed")
    except BaseException as error:
        # From here on a second SIGTERM must not cut the rollback short.
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        undo = [(
            f"restoring traffic {record['traffic']} (mirror {record['mirror']}), deleting "
            f"deployment {deployment_name} and removing the rollout record",
            lambda: azml_recover_rollout(
                client, endpoint_name, record["owner"], timeout_seconds
            ),
        )]
        azml_undo_and_raise(
            error,
            [f"rollout of {deployment_name} to {endpoint_name} failed: {error}", *log],
            undo,
            # The whole allowance after SIGTERM too: if the pod dies first, the record lets the
            # next run or the exit task finish the rollback.
            azml_cleanup_seconds(None, timeout_seconds),
        )
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous_handler or signal.SIG_DFL)
    return result


def azml_remove_old_deployments(
    client, endpoint_name: str, deployment_name: str, before: dict, timeout_seconds: int,
    log: list,
) -> list:
    # After a successful rollout: delete the deployments that took live traffic before it.
    removed = []
    for name, share in before.items():
        if share and name.lower() != deployment_name.lower():
            # Its autoscale setting first (Azure keeps a setting whose target is deleted).
            azml_remove_autoscale(client, azml_online_deployment_id(client, endpoint_name, name))
            azml_wait(
                f"deleting old deployment {name}",
                lambda name=name: client.online_deployments.begin_delete(
                    name, endpoint_name
                ).result(),
                timeout_seconds,
            )
            removed.append(name)
            log.append(f"removed old deployment {name}")
    return removed


def azml_safe_rollout(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    payload: str,
    options=None,
    traffic_steps: Optional[list] = None,
    mirror_percent: int = 0,
    expected_status: int = 200,
    expect_prediction_per_row: bool = True,
    json_schema: str = "",
    max_latency_ms: int = 0,
    remove_old: bool = False,
    timeout_seconds: int = 3600,
    pipeline_run_id: str = "",
    client=None,
    lineage: Optional[dict] = None,
) -> dict:
    # Returns the report facts; raises (after restoring traffic and deleting the new
    # deployment) when anything fails, including SIGTERM. options: see azml_deployment_options.
    # pipeline_run_id: the KFP run that owns the rollout (see azml_rollout_owner). client: the
    # run's one MLClient (azml_ml_client); one is made from the workspace arguments when None.
    # lineage: the new deployment's KFP run tags (azml_deployment_entity).
    steps = azml_check_steps([10, 50, 100] if traffic_steps is None else traffic_steps)
    options = azml_check_deployment_inputs(
        endpoint_name, deployment_name, model_id, options, timeout_seconds
    )
    azml_check_range("mirror_percent", mirror_percent, 0, 50)
    azml_lineage_tags(lineage)
    if mirror_percent and options.compute:
        # "Mirroring isn't currently supported for Kubernetes online endpoints" (Microsoft's
        # safe-rollout article, how-to-safely-rollout-online-endpoints).
        raise ValueError("mirror_percent: Kubernetes online endpoints (compute) take no mirror "
                         "traffic; use 0")
    smoke = azml_smoke_checks(
        payload, expected_status, expect_prediction_per_row, json_schema, max_latency_ms
    )
    owner = azml_rollout_owner(pipeline_run_id)
    if client is None:
        client = azml_ml_client(subscription_id, resource_group, workspace_name)
    log = []
    # What an earlier rollout left unfinished is undone first (refused while its run lives).
    recovered = azml_recover_rollout(client, endpoint_name, owner, timeout_seconds)
    if recovered["undone"]:
        log.append(
            f"undid the unfinished rollout of {recovered['deployment_name']} (owner "
            f"{recovered['owner']}): " + "; ".join(recovered["actions"])
        )
    target = AzmlRolloutTarget(endpoint_name, deployment_name, model_id, lineage)
    state, moves, record = azml_prepare_rollout(
        client, target, options, steps, mirror_percent, owner, timeout_seconds
    )
    result = azml_apply_rollout(
        client, target, options, moves, smoke, state, record, timeout_seconds, log
    )
    removed = []
    if remove_old:
        removed = azml_remove_old_deployments(
            client, endpoint_name, deployment_name, state.traffic, timeout_seconds, log
        )
    after, after_mirror = azml_traffic_of(client.online_endpoints.get(endpoint_name))
    models = {d.name: azml_short_model_id(d.model) for d in state.deployments}
    models[deployment_name] = azml_short_model_id(model_id)
    return {
        **result,
        "traffic_before": state.traffic,
        "mirror_traffic_before": state.mirror,
        "traffic": after,
        "mirror_traffic": after_mirror,
        "removed": removed,
        "models": models,
        "created_endpoint": record["created_endpoint"],
        "rollout_owner": owner,
        "recovered": recovered,
        "steps": log,
    }


def azml_prepare_rollout(
    client, target: AzmlRolloutTarget, options: AzmlDeploymentOptions, steps: list,
    mirror_percent: int, owner: str, timeout_seconds: int,
) -> tuple:
    # Reads and checks only: (state, moves, record). Everything deploy_model reads and checks
    # (the endpoint and its kind, the compute and its instance types, the model, a registered
    # environment, code inside the model, downloaded here once) and its plan's rules (code and
    # environment for the model's type) run before the rollout's first write.
    state = azml_read_deployment_state(
        client, target.endpoint_name, target.model_id, options, timeout_seconds
    )
    azml_plan_deployment(state, target.model_id, target.deployment_name, options, 0)
    if target.deployment_name.lower() in {d.name.lower() for d in state.deployments}:
        raise ValueError(
            f"deployment_name: {target.deployment_name!r} already exists on "
            f"{target.endpoint_name!r}; a rollout needs a new deployment name"
        )
    moves = azml_plan_rollout(
        state.traffic, state.mirror, target.deployment_name, steps, mirror_percent
    )
    record = azml_rollout_record(
        target.deployment_name, owner, state.endpoint is None, state.traffic, state.mirror,
        timeout_seconds,
    )
    return state, moves, record
