"""Deployments of online endpoints: provisioning LROs, logs, Azure's delete rule, restarts."""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal
from typing import Any

from azml_local.infra.lro import LroFailure
from azml_local.infra.state import PRIVATE, public
from azml_local.infra.web import Request, Response, Router, bad_request
from azml_local.resources import data_collector, kubernetes_computes, online_settings
from azml_local.resources.context import (
    LOCATION,
    Context,
    caller,
    check_string_map,
    field_of,
    get_or_404,
    properties_of,
    system_data,
)
from azml_local.resources.online import (
    DEP,
    EP,
    NAME,
    endpoint_body,
    refuse_if_busy,
    serving_key,
    set_state,
    stop_serving,
)
from azml_local.resources.scale_settings import check_scale_settings
from azml_local.resources.tags import checked_tags
from azml_local.serving import provision

log = logging.getLogger("standin")


def add_routes(router: Router, ctx: Context) -> None:
    def get_endpoint_body(request: Request) -> dict[str, Any]:
        return endpoint_body(ctx, request)

    def endpoint_id(request: Request) -> str:
        return get_endpoint_body(request)["id"]

    def deployment_view(body: dict[str, Any]) -> dict[str, Any]:
        return public(body)

    def deployment_id(request: Request) -> str:
        return f"{endpoint_id(request)}/deployments/{request.params['deployment']}"

    def list_deployments(request: Request) -> Response:
        rid = get_endpoint_body(request)["id"]
        items = ctx.store.children(rid, "deployments")
        return Response(200, {"value": [deployment_view(d) for d in items]})

    def get_deployment(request: Request) -> Response:
        get_endpoint_body(request)
        name = request.params["deployment"]
        body = get_or_404(ctx, deployment_id(request), "Deployment", name)
        return Response(200, deployment_view(body))

    def validate_deployment(body: dict[str, Any]) -> dict[str, Any]:
        props = properties_of(body)
        kind = field_of(props, "endpointComputeType", str)
        if kind not in ("Managed", "Kubernetes"):
            raise bad_request(f"endpointComputeType '{kind}' is not supported (Managed, "
                              "Kubernetes).")
        field_of(props, "model", str)
        field_of(props, "environmentId", str, required=False)
        field_of(props, "instanceType", str, required=False)
        field_of(props, "codeConfiguration.scoringScript", str, required=False)
        field_of(props, "codeConfiguration.codeId", str, required=False)
        check_string_map(props, "environmentVariables")
        props = {**props, **online_settings.deployment_settings(props)}
        collector = data_collector.checked(props)  # data_collector.py: the REST spec's rules
        if collector is not None:
            props["dataCollector"] = collector
        sku = field_of(body, "sku", dict, required=False) or {}
        if "capacity" in sku:
            field_of(sku, "capacity", int)
        model = ctx.store.get(props["model"])
        no_code = not props.get("codeConfiguration") and not props.get("environmentId")
        if no_code and model and model["properties"].get("modelType") != "mlflow_model":
            # Azure: only MLflow models deploy without a scoring script and environment.
            raise bad_request("A scoring script and an environment are required unless the "
                              "model is an MLflow model.")
        return props

    def put_deployment(request: Request) -> Response:
        endpoint = get_endpoint_body(request)
        name = request.params["deployment"]
        if not NAME.match(name):
            raise bad_request(f"Deployment name '{name}' is invalid.")
        body = request.json_object()
        props = dict(validate_deployment(body))
        tags = checked_tags(body)  # ARM's tag limits (see tags.py)
        props.update(check_compute_type(ctx, endpoint, props))
        check_scale_settings(props)  # scale_settings.py
        rid = f"{endpoint['id']}/deployments/{name}"
        data_collector.register_missing_assets(
            ctx, endpoint["id"].split("/onlineEndpoints/")[0], endpoint["name"], name,
            props.get("dataCollector"), caller(request))
        with ctx.store.lock:
            previous = ctx.store.get(rid)
            refuse_if_busy(previous, request.params["ws"])
            generation = previous[PRIVATE]["generation"] + 1 if previous else 1
            props.setdefault("scaleSettings", {"scaleType": "Default"})  # the SDK needs it
            props["provisioningState"] = "Updating" if previous else "Creating"
            record = {
                "id": previous["id"] if previous else rid,
                "name": previous["name"] if previous else name,
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "location": body.get("location") or LOCATION,
                "kind": body.get("kind") or "Managed",
                "tags": tags,  # a PUT replaces the whole map
                "sku": body.get("sku") or {"name": "Default", "capacity": 1},
                "systemData": system_data(previous, caller(request)),
                "properties": props,
                PRIVATE: {
                    **(previous[PRIVATE] if previous else {}),
                    "generation": generation,
                    "failure_logs": "",
                },
            }
            ctx.store.put(record)
        key = serving_key(record)

        def work() -> None:
            provision.provision(ctx, record, key)
            with ctx.store.lock:
                current = ctx.store.get(rid)
                old_key = current[PRIVATE].get("serving_key") if current else None
                if current is None:
                    provision.serving(ctx).stop(key)
                    return
                current[PRIVATE]["serving_key"] = key
                current["properties"]["provisioningState"] = "Succeeded"
                ctx.store.put(current)
            if old_key and old_key != key:  # the previous version served until now
                provision.serving(ctx).stop(old_key)

        headers = ctx.ops.start(
            request, rid, work, lambda _: set_state(ctx, rid, "Failed")
        )
        return Response(200 if previous else 201, deployment_view(record), headers)

    def delete_deployment(request: Request) -> Response:
        endpoint = get_endpoint_body(request)
        name = request.params["deployment"]
        rid = f"{endpoint['id']}/deployments/{name}"
        with ctx.store.lock:
            body = ctx.store.get(rid)
            if body is None:
                return Response(204)
            refuse_if_busy(body, request.params["ws"])
            # A deployment with live or mirrored traffic is not deleted (400). Microsoft's
            # safe-rollout article moves all traffic away before deleting the old deployment;
            # no Microsoft statement of the refusal itself was found (REST API spec, docs), so
            # the stand-in keeps the strict reading, which the components obey anyway.
            props = endpoint["properties"]
            for what in ("traffic", "mirrorTraffic"):
                share = {k.lower(): v for k, v in (props.get(what) or {}).items()}
                if share.get(name.lower()):
                    raise bad_request(
                        f"Deployment '{body['name']}' has {share[name.lower()]}% "
                        f"{'live' if what == 'traffic' else 'mirror'} traffic; set it to 0 "
                        "before deleting the deployment."
                    )
            body["properties"]["provisioningState"] = "Deleting"
            ctx.store.put(body)

        def work() -> None:
            stop_serving(ctx, body)
            ctx.store.delete(rid)
            with ctx.store.lock:  # a 0% entry for a deleted deployment goes away with it
                current = ctx.store.get(endpoint["id"])
                if current:
                    for what in ("traffic", "mirrorTraffic"):
                        share = current["properties"].get(what) or {}
                        for k in [k for k in share if k.lower() == name.lower()]:
                            del share[k]
                    ctx.store.put(current)

        headers = ctx.ops.start(request, rid, work, lambda _: set_state(ctx, rid, "Failed"))
        return Response(202, None, headers)

    def get_logs(request: Request) -> Response:
        get_endpoint_body(request)
        name = request.params["deployment"]
        body = get_or_404(ctx, deployment_id(request), "Deployment", name)
        tail = field_of(request.json_object(), "tail", int, required=False)
        key = body[PRIVATE].get("serving_key")
        content = body[PRIVATE].get("failure_logs") or ""
        if not content and ctx.serving is not None:
            content = ctx.serving.logs(key or serving_key(body), tail)
        elif tail:
            content = "\n".join(content.splitlines()[-tail:])
        return Response(200, {"content": content})

    router.add("GET", EP + "/deployments", list_deployments)
    router.add("GET", DEP, get_deployment)
    router.add("PUT", DEP, put_deployment)
    router.add("DELETE", DEP, delete_deployment)
    router.add("POST", DEP + "/getLogs", get_logs)




def check_compute_type(ctx: Context, endpoint: dict[str, Any], props: dict[str, Any]) -> dict:
    # A deployment is of its endpoint's kind (REST API spec 2024-04-01: OnlineDeployment's
    # discriminator endpointComputeType, Managed or Kubernetes). A Kubernetes deployment runs
    # one of its cluster's instance types, the cluster's default when it names none ("Create
    # and manage instance types", learn.microsoft.com); containerResourceRequirements exists
    # only on KubernetesOnlineDeployment. Returns the properties Azure fills in.
    kind = props["endpointComputeType"]
    compute_id = endpoint["properties"].get("compute")
    if kind != ("Kubernetes" if compute_id else "Managed"):
        raise bad_request(
            f"endpointComputeType {kind} does not match endpoint '{endpoint['name']}', which is "
            f"{'a Kubernetes' if compute_id else 'a managed'} online endpoint."
        )
    if not compute_id:
        if props.get("containerResourceRequirements"):
            raise bad_request("containerResourceRequirements applies to Kubernetes "
                              "deployments only.")
        return {}
    given = field_of(props, "containerResourceRequirements", dict, required=False)
    if given:
        check_resource_requirements(given)
    workspace_id = endpoint["id"].split("/onlineEndpoints/")[0]
    cluster = kubernetes_computes.kubernetes_compute(ctx, workspace_id, compute_id)["properties"]
    known = cluster["properties"]["instanceTypes"]
    wanted = props.get("instanceType") or cluster["properties"]["defaultInstanceType"]
    if wanted not in known:
        raise bad_request(
            f"Instance type '{wanted}' is not defined on compute '{cluster_name(compute_id)}' "
            f"(it has: {', '.join(sorted(known))})."
        )
    # The SDK reads containerResourceRequirements back from every Kubernetes deployment (its
    # KubernetesOnlineDeployment._from_rest_object fails without it); a deployment that sets
    # none runs with its instance type's resources, so those are what it reports.
    resources = known[wanted]["resources"]
    settings = {
        "containerResourceRequests": _settings(resources.get("requests")),
        "containerResourceLimits": _settings(resources.get("limits")),
    }
    return {"instanceType": wanted,
            "containerResourceRequirements": props.get("containerResourceRequirements")
            or settings}


def check_resource_requirements(given: dict[str, Any]) -> None:
    # Kubernetes refuses a container whose request exceeds its limit for the same resource
    # ("must be less than or equal to cpu limit": kubernetes.io, "Limit Ranges"; the API
    # server's ValidateResourceRequirements), and values must be Kubernetes quantities. Azure:
    # "An invalid resource definition causes the model deployment to fail" (Microsoft's "Create
    # and manage instance types", resource section validation). Whether Azure says so at the
    # PUT or only when provisioning fails is not documented; the stand-in answers the PUT (400),
    # which reports the same refusal no later than Azure does and never accepts such a pod.
    sides = {}
    for side in ("containerResourceRequests", "containerResourceLimits"):
        settings = field_of(given, side, dict, required=False) or {}
        sides[side] = {}
        for key in ("cpu", "memory", "gpu"):
            value = settings.get(key)
            if value in (None, ""):
                continue
            quantity = kubernetes_quantity(value)
            if quantity is None:
                raise bad_request(f"{side}.{key} '{value}' is not a valid Kubernetes quantity.")
            sides[side][key] = (value, quantity)
    requests, limits = sides["containerResourceRequests"], sides["containerResourceLimits"]
    for key, (value, quantity) in requests.items():
        if key in limits and quantity > limits[key][1]:
            raise bad_request(
                f"containerResourceRequests.{key}: Invalid value: '{value}': must be less than or "
                f"equal to {key} limit of '{limits[key][0]}'."
            )


def kubernetes_quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity's value, or None when `value` is not one (or is negative).

    kubernetes.io, "Resource Management for Pods and Containers" and the Quantity reference: a
    decimal number, then m (1/1000), k M G T P E (powers of 1000), Ki Mi Gi Ti Pi Ei (powers of
    1024) or an exponent (129e6).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    match = re.fullmatch(r"\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                         r"(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][-+]?[0-9]+)?", str(value).strip())
    if match is None:
        return None
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return number * Decimal(10) ** int(suffix[1:])
    scale = {"": Decimal(1), "m": Decimal("0.001")}
    for power, letter in enumerate("kMGTPE", start=1):
        scale[letter] = Decimal(1000) ** power
        scale[letter.upper() + "i"] = Decimal(1024) ** power
    return number * scale[suffix]


def _settings(quantities: dict | None) -> dict:
    quantities = quantities or {}
    return {"cpu": quantities.get("cpu"), "memory": quantities.get("memory"),
            "gpu": quantities.get("nvidia.com/gpu")}


def cluster_name(compute_id: str) -> str:
    return compute_id.rsplit("/", 1)[-1]


def recover(ctx: Context) -> None:
    """After a restart: interrupted operations end Failed, healthy deployments re-provision.

    The deployments start again side by side, and local mode is ready once they all serve (or
    failed): a deployment that reads Succeeded answers its scoring requests.
    """
    starting = []
    for body in ctx.store.all():
        kind = body.get("type", "")
        state = (body.get("properties") or {}).get("provisioningState")
        if "/onlineendpoints" not in kind.lower():  # batch resources: batch.py, jobs.py
            continue
        if state == "Deleting":
            ctx.store.delete(body["id"])
        elif state in ("Creating", "Updating"):
            set_state(ctx, body["id"], "Failed")
        elif state == "Succeeded" and kind.endswith("/deployments"):
            starting.append(threading.Thread(
                target=_reprovision, args=(ctx, body), name="reprovision", daemon=True))
            starting[-1].start()
    for thread in starting:
        thread.join()


def _reprovision(ctx: Context, body: dict[str, Any]) -> None:
    key = serving_key(body)
    try:
        provision.provision(ctx, body, key)
    except LroFailure as exc:
        log.warning("re-provisioning %s failed: %s", body["id"], exc.message)
        set_state(ctx, body["id"], "Failed")
        return
    with ctx.store.lock:
        current = ctx.store.get(body["id"])
        if current is not None:
            current[PRIVATE]["serving_key"] = key
            ctx.store.put(current)


def shutdown(ctx: Context) -> None:
    if ctx.serving is not None:
        ctx.serving.stop_all()


