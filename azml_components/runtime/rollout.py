# Safe blue/green rollout: deploy at 0%, test, shift in steps, roll back on any failure.
from typing import Optional

from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.deploy import (
    azml_best_effort,
    azml_check_code,
    azml_check_model_id,
    azml_deploy_model,
    azml_get_or_none,
    azml_resolve_environment,
    azml_set_traffic,
)
from azml_components.runtime.invoke import azml_count_rows, azml_invoke_endpoint
from azml_components.runtime.calls import azml_call, azml_wait
from azml_components.runtime.traffic import azml_plan_traffic, azml_traffic_of
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


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


def azml_safe_rollout(
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    deployment_name: str,
    model_id: str,
    payload: str,
    code_path: str = "",
    scoring_script: str = "",
    conda_file: str = "",
    image: str = "",
    environment: str = "",
    instance_type: str = "Standard_DS3_v2",
    instance_count: int = 1,
    traffic_steps: Optional[list] = None,
    mirror_percent: int = 0,
    expected_status: int = 200,
    expect_prediction_per_row: bool = True,
    json_schema: str = "",
    max_latency_ms: int = 0,
    remove_old: bool = False,
    timeout_seconds: int = 3600,
) -> dict:
    # Returns the report facts; raises (after restoring traffic and deleting the new
    # deployment) when anything fails, including SIGTERM.
    import json
    import signal
    import threading

    steps = azml_check_steps([10, 50, 100] if traffic_steps is None else traffic_steps)
    azml_check_online_name("endpoint_name", endpoint_name)
    azml_check_online_name("deployment_name", deployment_name)
    azml_check_model_id(model_id)
    azml_check_range("mirror_percent", mirror_percent, 0, 50)
    azml_check_range("instance_count", instance_count, 1)
    azml_check_code(code_path, scoring_script)
    azml_resolve_environment(code_path, conda_file, image, environment)
    try:
        rows = azml_count_rows(json.loads(payload))
    except (TypeError, ValueError) as error:
        raise ValueError(f"payload: not valid JSON ({error})") from error
    if expect_prediction_per_row and rows is None:
        raise ValueError("payload: cannot tell how many rows it holds")
    subscription = azml_subscription_id(subscription_id)
    client = azml_ml_client(subscription, resource_group, workspace_name)
    workspace = {
        "subscription_id": subscription,
        "resource_group": resource_group,
        "workspace_name": workspace_name,
    }
    endpoint = azml_get_or_none(
        f"reading endpoint {endpoint_name!r}", client.online_endpoints.get, endpoint_name
    )
    before, before_mirror = ({}, {}) if endpoint is None else azml_traffic_of(endpoint)
    # One listing: the names guard against reuse, the models go into the report.
    current = (
        []
        if endpoint is None
        else azml_call(
            f"listing deployments of {endpoint_name!r}",
            lambda: list(client.online_deployments.list(endpoint_name)),
        )
    )
    if deployment_name.lower() in {d.name.lower() for d in current}:
        raise ValueError(
            f"deployment_name: {deployment_name!r} already exists on "
            f"{endpoint_name!r}; a rollout needs a new deployment name"
        )

    def short(model_ref) -> str:
        # An ARM id or azureml:NAME:VERSION, shown as NAME:VERSION (or as given).
        return str(model_ref).split("/models/")[-1].replace("/versions/", ":")

    models = {d.name: short(d.model) for d in current}
    models[deployment_name] = short(model_id)
    log = []

    def smoke(target: str, label: str) -> None:
        answer = azml_invoke_endpoint(
            **workspace,
            endpoint_name=endpoint_name,
            payload=payload,
            deployment_name=target,
            expected_status=expected_status,
            expect_prediction_per_row=expect_prediction_per_row,
            json_schema=json_schema,
            max_latency_ms=max_latency_ms,
        )
        if answer["problems"]:
            raise RuntimeError(f"smoke test ({label}) failed: " + "; ".join(answer["problems"]))
        log.append(f"smoke test ({label}): HTTP {answer['status']} in {answer['latency_ms']} ms")

    # SIGTERM only sets a flag, checked between steps: an exception raised inside a network
    # call would be taken for a connection error and retried by urllib3/azure-core.
    cancelled = []

    def cancel(signum, frame):
        cancelled.append(signum)

    def check() -> None:
        if cancelled:
            raise InterruptedError("rollout cancelled by SIGTERM")

    in_main = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGTERM, cancel) if in_main else None
    deployed = False
    try:
        result = azml_deploy_model(
            **workspace,
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
            model_id=model_id,
            code_path=code_path,
            scoring_script=scoring_script,
            conda_file=conda_file,
            image=image,
            environment=environment,
            instance_type=instance_type,
            instance_count=instance_count,
            traffic_percent=0,
            timeout_seconds=timeout_seconds,
        )
        deployed = True
        log.append(f"deployed {deployment_name} ({models[deployment_name]}) at 0%")
        check()
        smoke(deployment_name, f"{deployment_name} directly")
        check()
        endpoint = client.online_endpoints.get(endpoint_name)
        if mirror_percent and any(before.values()):
            azml_set_traffic(
                client, endpoint, before, {deployment_name: mirror_percent}, timeout_seconds
            )
            log.append(f"mirrored {mirror_percent}% of live traffic to {deployment_name}")
            check()
            smoke("", "live traffic while mirroring")
            check()
            endpoint = azml_set_traffic(
                client,
                client.online_endpoints.get(endpoint_name),
                before,
                before_mirror,
                timeout_seconds,
            )
            log.append("mirror traffic removed")
        for step in steps:
            if not any(before.values()) and step < 100:
                continue  # nothing to share with: the first deployment goes straight to 100
            plan = azml_plan_traffic(before, deployment_name, step)
            mirror = {
                k: v for k, v in before_mirror.items() if k.lower() != deployment_name.lower()
            }
            endpoint = azml_set_traffic(
                client, client.online_endpoints.get(endpoint_name), plan, mirror, timeout_seconds
            )
            log.append(f"traffic {plan}")
            check()
            smoke(deployment_name, f"{deployment_name} at {step}%")
            smoke("", f"endpoint at {step}%")
            check()
    except BaseException as error:
        # From here on a second SIGTERM must not cut the rollback short.
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        notes = []
        if deployed:
            # The read is inside the best effort too: a failing read must not skip the delete.
            notes.append(
                azml_best_effort(
                    f"restoring traffic {before} (mirror {before_mirror})",
                    lambda: azml_set_traffic(
                        client,
                        client.online_endpoints.get(endpoint_name),
                        before,
                        before_mirror,
                        timeout_seconds,
                    ),
                    min(timeout_seconds, 600),
                )
            )
            notes.append(
                azml_best_effort(
                    f"deleting deployment {deployment_name}",
                    lambda: client.online_deployments.begin_delete(
                        deployment_name, endpoint_name
                    ).result(),
                    min(timeout_seconds, 600),
                )
            )
        message = "\n".join(
            [f"rollout of {deployment_name} to {endpoint_name} failed: {error}", *log, *notes]
        )
        if isinstance(error, (InterruptedError, TimeoutError)):
            raise type(error)(message) from error
        raise RuntimeError(message) from error
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous_handler or signal.SIG_DFL)
    removed = []
    if remove_old:
        for name, share in before.items():
            if share and name.lower() != deployment_name.lower():
                azml_wait(
                    f"deleting old deployment {name}",
                    lambda name=name: client.online_deployments.begin_delete(
                        name, endpoint_name
                    ).result(),
                    timeout_seconds,
                )
                removed.append(name)
                log.append(f"removed old deployment {name}")
    final = client.online_endpoints.get(endpoint_name)
    after, after_mirror = azml_traffic_of(final)
    return {
        **result,
        "traffic_before": before,
        "traffic": after,
        "mirror_traffic": after_mirror,
        "removed": removed,
        "models": models,
        "steps": log,
    }
