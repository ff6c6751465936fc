# Writing a deployment with undo, for online and batch endpoints alike: create the endpoint when
# it is new, create or update the deployment, and after any failure delete what this call
# created. client.online_endpoints / online_deployments and client.batch_endpoints /
# batch_deployments have the same get, begin_create_or_update and begin_delete signatures, so
# deploy_model and deploy_batch_model hand their operations objects to one function, and read
# the result back through one (azml_read_deployment_back).
from typing import Optional

from azml_components.runtime.calls import (
    azml_call,
    azml_cleanup_seconds,
    azml_undo_and_raise,
    azml_wait,
    azml_when_idle,
)


def azml_write_deployment(
    endpoints,
    deployments,
    endpoint_name: str,
    deployment,
    new_endpoint,
    new_deployment: bool,
    timeout_seconds: int,
    kind: str = "",
    notes: Optional[list] = None,
    logs=None,
    then=None,
    before_delete=None,  # run before the undo deletes the deployment (online: its autoscale)
) -> None:
    # new_endpoint: the endpoint entity to create, None when the endpoint exists. kind: "" for
    # online, "batch" for batch (it names the resources in messages). notes: lines a failure's
    # message adds; logs: a function giving the deployment's logs, added when the deployment's
    # write failed. then: one more write after the deployment, undone with it (batch: make it
    # the endpoint's default). A failed deployment is deleted when this call created it, as is
    # an endpoint this call created (also when its own creation failed or timed out). An
    # operation another run left running on the deployment (a crashed or cancelled run) is
    # waited out, then this run's write goes through; the undo's deletes wait likewise.
    name = deployment.name
    prefix = f"{kind} " if kind else ""
    undo = []
    if new_deployment:
        undo.append(
            (
                f"deleting failed {prefix}deployment {name!r}",
                lambda: azml_when_idle(
                    f"deleting {prefix}deployment {name!r}",
                    lambda: deployments.get(name, endpoint_name),
                    lambda: azml_delete_after(
                        before_delete, lambda: deployments.begin_delete(name, endpoint_name)
                    ),
                    600,
                ),
            )
        )
    if new_endpoint is not None:
        undo.append(
            (
                f"deleting {prefix}endpoint {endpoint_name!r} created by this run",
                lambda: azml_when_idle(
                    f"deleting {prefix}endpoint {endpoint_name!r}",
                    lambda: endpoints.get(endpoint_name),
                    lambda: endpoints.begin_delete(endpoint_name).result(),
                    600,
                ),
            )
        )
    step = "deployment"
    try:
        if new_endpoint is not None:
            step = "endpoint"
            azml_wait(
                f"creating {prefix}endpoint {endpoint_name!r}",
                lambda: endpoints.begin_create_or_update(new_endpoint).result(),
                timeout_seconds,
            )
            step = "deployment"
        azml_when_idle(
            f"deploying {name!r} to {prefix}endpoint {endpoint_name!r}",
            lambda: deployments.get(name, endpoint_name),
            lambda: deployments.begin_create_or_update(deployment).result(),
            timeout_seconds,
        )
        if then is not None:
            step = "then"
            then()
    except BaseException as error:
        log_text = logs() if logs is not None and step == "deployment" else ""
        if step == "endpoint":
            undo = undo[-1:]  # no deployment was written
        azml_undo_and_raise(
            error,
            [str(error), *(notes or []), *([log_text] if log_text else [])],
            undo,
            azml_cleanup_seconds(error, timeout_seconds),
        )


def azml_delete_after(before, begin_delete) -> None:
    # before() (when given), then the deletion begin_delete() starts, waited for.
    if before is not None:
        before()
    begin_delete().result()


def azml_read_deployment_back(
    endpoints, deployments, endpoint_name: str, deployment_name: str, kind: str = ""
) -> tuple:
    # (endpoint, deployment) as Azure has them after the writes, which the outputs are read
    # from. endpoints / deployments and kind as in azml_write_deployment.
    prefix = f"{kind} " if kind else ""
    endpoint = azml_call(
        f"reading {prefix}endpoint {endpoint_name!r}", endpoints.get, endpoint_name
    )
    deployment = azml_call(
        f"reading {prefix}deployment {deployment_name!r}",
        deployments.get,
        deployment_name,
        endpoint_name,
    )
    return endpoint, deployment
