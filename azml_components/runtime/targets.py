# Where a deployment runs: a managed online endpoint (Azure's VMs, sized by a VM size) or a
# Kubernetes online endpoint on an attached Kubernetes compute (the cluster's instance types,
# optional container resource requests/limits). The input rules run before any call to Azure;
# the compute, its instance types and the endpoint's kind are read before any write.

from azml_components.runtime.calls import azml_get_or_none
from azml_components.runtime.validation import azml_check_range, azml_whole_numbers


def azml_check_target(
    compute: str, instance_type: str, resource_requests, resource_limits
) -> dict:
    # Inputs that only apply to one kind are refused here. Sources:
    # - managed VM sizes are Azure VM SKUs, all named Standard_* ("Managed online endpoints SKU
    #   list", learn.microsoft.com, reference-managed-online-endpoints-vm-sku-list);
    # - a Kubernetes instance type is a custom resource on the cluster ("Create and manage
    #   instance types", how-to-manage-kubernetes-instance-types), so its name is a Kubernetes
    #   object name: lower-case letters, digits, '-' and '.' (kubernetes.io, "Object Names and
    #   IDs", DNS subdomain names);
    # - container resource requests/limits exist on KubernetesOnlineDeployment only (REST API
    #   spec 2024-04-01, containerResourceRequirements: cpu, memory, gpu), their values
    #   Kubernetes quantities (kubernetes.io, "Resource Management for Pods and Containers").
    import re

    if not isinstance(compute, str) or (compute and not re.fullmatch(r"[A-Za-z][\w-]*", compute)):
        raise ValueError(
            f"compute: {compute!r} must be the name of a Kubernetes compute attached to the "
            "workspace, or empty for a managed online endpoint"
        )
    if not isinstance(instance_type, str):
        raise ValueError(f"instance_type: {instance_type!r} must be a string")
    requests = azml_check_resources("resource_requests", resource_requests)
    limits = azml_check_resources("resource_limits", resource_limits)
    if not compute:
        if requests or limits:
            field = "resource_requests" if requests else "resource_limits"
            raise ValueError(
                f"{field}: applies to Kubernetes deployments only (give compute); a managed "
                "deployment is sized by its instance_type (VM size)"
            )
        if instance_type and not instance_type.lower().startswith("standard_"):
            raise ValueError(
                f"instance_type: {instance_type!r} is not an Azure VM size; managed online "
                "deployments take one such as Standard_DS3_v2 (a Kubernetes instance type "
                "needs compute)"
            )
        return {"compute": "", "instance_type": instance_type or "Standard_DS3_v2",
                "resource_requests": {}, "resource_limits": {}}
    if instance_type and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", instance_type):
        raise ValueError(
            f"instance_type: {instance_type!r} is not a Kubernetes instance type name (lower-case "
            "letters, digits, '-' and '.'); a Kubernetes deployment takes one of the cluster's "
            "instance types, not a VM size; empty means the cluster's default"
        )
    # Kubernetes refuses a container whose request exceeds its limit for the same resource
    # ("must be less than or equal to cpu limit": kubernetes.io, "Limit Ranges", and the API
    # server's ValidateResourceRequirements), so Azure's deployment could never start.
    for key in ("cpu", "memory", "gpu"):
        if key in requests and key in limits:
            if azml_quantity(requests[key]) > azml_quantity(limits[key]):
                raise ValueError(
                    f"resource_requests: {key} {requests[key]!r} is more than the {key} limit "
                    f"{limits[key]!r} (resource_limits); Kubernetes needs each request to be at "
                    "most its limit"
                )
    return {"compute": compute, "instance_type": instance_type,
            "resource_requests": requests, "resource_limits": limits}


def azml_check_resources(field: str, value) -> dict:
    # {"cpu": "500m", "memory": "1Gi", "gpu": "1"}: Kubernetes quantities, as strings.
    import re

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be a mapping such as {{'cpu': '500m', 'memory': '1Gi'}}")
    result = {}
    for key, item in value.items():
        if key not in ("cpu", "memory", "gpu"):
            raise ValueError(f"{field}: {key!r} is not one of cpu, memory, gpu")
        text = str(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item
        if key == "gpu":
            ok = isinstance(text, str) and re.fullmatch(r"[0-9]+", text)
        else:
            ok = isinstance(text, str) and re.fullmatch(
                r"([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?", text
            )
        if not ok:
            raise ValueError(
                f"{field}: {key} {item!r} is not a Kubernetes quantity (e.g. cpu '500m' or '2', "
                "memory '1Gi', gpu '1')"
            )
        result[key] = text
    return result


def azml_resolve_target(client, endpoint_name: str, target: dict, endpoint) -> dict:
    # Reads only: the attached compute and its instance types. Returns the checked target
    # (kind, compute, instance_type resolved to the cluster's default when empty). An existing
    # endpoint keeps its kind and compute (Azure refuses a change after creation).
    compute = target["compute"]
    if endpoint is not None:
        existing = (getattr(endpoint, "compute", None) or "").rsplit("/", 1)[-1]
        if existing.lower() != compute.lower():
            kind = f"a Kubernetes endpoint on compute {existing!r}" if existing else "managed"
            raise ValueError(
                f"compute: endpoint {endpoint_name!r} is {kind}; an endpoint's kind and compute "
                f"cannot change after creation (asked: {compute or 'managed'!r})"
            )
    if not compute:
        return {**target, "kind": "managed", "instance_resources": {}}
    cluster = azml_get_or_none(f"reading compute {compute!r}", client.compute.get, compute)
    if cluster is None:
        raise ValueError(f"compute: {compute!r} is not attached to the workspace")
    if str(cluster.type).lower() != "kubernetes":
        raise ValueError(
            f"compute: {compute!r} is a {cluster.type} compute; online endpoints run on "
            "Kubernetes computes only"
        )
    settings = (cluster.properties or {}).get("properties") or cluster.properties or {}
    types = sorted(settings.get("instanceTypes") or {})
    instance_type = target["instance_type"] or settings.get("defaultInstanceType") or ""
    if instance_type not in types:
        raise ValueError(
            f"instance_type: {instance_type!r} is not an instance type of compute {compute!r} "
            f"(it has: {', '.join(types) or 'none'})"
        )
    # What a deployment given no resources runs with: "If you don't define the resources
    # section, the system uses the instance type to create the deployment" (Microsoft's
    # "Create and manage instance types"), so that deployment reports these requests/limits.
    # The compute names the GPU nvidia.com/gpu, as the instance type's Kubernetes resource.
    spec = (settings["instanceTypes"][instance_type] or {}).get("resources") or {}
    instance_resources = {}
    for side in ("requests", "limits"):
        given = spec.get(side) or {}
        values = {"cpu": given.get("cpu"), "memory": given.get("memory"),
                  "gpu": given.get("nvidia.com/gpu")}
        instance_resources[side] = {k: str(v) for k, v in values.items() if v not in (None, "")}
    return {**target, "kind": "kubernetes", "instance_type": instance_type,
            "instance_resources": instance_resources}


def azml_quantity(text: str):
    # The value of a Kubernetes quantity as a Decimal: a decimal number and an optional suffix,
    # m (1/1000), k M G T P E (powers of 1000) or Ki Mi Gi Ti Pi Ei (powers of 1024)
    # (kubernetes.io, "Resource Management for Pods and Containers": 0.1 CPU is 100m, "129M,
    # 123Mi"). The forms azml_check_resources admits; anything else is a ValueError.
    import re
    from decimal import Decimal

    match = re.fullmatch(
        r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?", str(text).strip()
    )
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.groups()
    scale = {"": 1, "m": Decimal("0.001")}
    for power, letter in enumerate("kMGTPE", start=1):
        scale[letter] = 1000 ** power
        scale[letter.upper() + "i"] = 1024 ** power
    return Decimal(number) * scale[suffix or ""]


def azml_resource_values(resources: dict) -> dict:
    # {"requests": {...}, "limits": {...}} of quantity strings -> the same of values, so that
    # 0.5 and 500m, or 1Gi and 1024Mi, compare equal; a value that is no quantity stays text.
    values = {}
    for side, settings in resources.items():
        values[side] = {}
        for key, text in (settings or {}).items():
            try:
                values[side][key] = azml_quantity(text)
            except ValueError:
                values[side][key] = str(text)
    return values


def azml_new_endpoint(name: str, auth_mode: str, tags: dict, compute: str, options=None):
    # The endpoint entity to create: Kubernetes on `compute`, or managed; with the description,
    # public network access (managed only; empty is Azure's default, enabled) and managed
    # identity options (an AzmlDeploymentOptions) ask for, else Azure's defaults.
    from azure.ai.ml.entities import KubernetesOnlineEndpoint, ManagedOnlineEndpoint

    identity = azml_identity_configuration(options)
    description = (options.endpoint_description if options is not None else "") or None
    public_network_access = (
        options.public_network_access if options is not None else ""
    ) or None
    if compute:
        return KubernetesOnlineEndpoint(name=name, auth_mode=auth_mode, tags=tags,
                                        compute=compute, identity=identity,
                                        description=description)
    return ManagedOnlineEndpoint(name=name, auth_mode=auth_mode, tags=tags, identity=identity,
                                 description=description,
                                 public_network_access=public_network_access)


def azml_check_identity(identity_type: str, user_assigned_identities) -> list:
    # The endpoint's managed identity: system_assigned or user_assigned (the SDK's
    # IdentityConfiguration types for endpoints, REST ManagedServiceIdentity), the second with
    # one or more user-assigned identities by ARM id (Microsoft.ManagedIdentity/
    # userAssignedIdentities; a name is 3-128 letters, digits, '-' or '_', starting with a
    # letter or digit: Azure's resource naming rules). Returns the ids.
    import re

    if identity_type not in ("", "system_assigned", "user_assigned"):
        raise ValueError(f"identity_type: {identity_type!r} is not one of system_assigned, "
                         "user_assigned (or empty for Azure's default, system_assigned)")
    ids = user_assigned_identities or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("user_assigned_identities: must be a list of ARM ids")
    if identity_type == "user_assigned" and not ids:
        raise ValueError("user_assigned_identities: required with identity_type user_assigned")
    if ids and identity_type != "user_assigned":
        raise ValueError("user_assigned_identities: only with identity_type user_assigned")
    pattern = (r"/subscriptions/[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}/resourceGroups/"
               r"[-\w.()]{1,90}/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/"
               r"[A-Za-z0-9][-\w]{2,127}")
    for item in ids:
        if not re.fullmatch(pattern, item, re.IGNORECASE):
            raise ValueError(
                f"user_assigned_identities: {item!r} is not the ARM id of a user-assigned "
                "identity (/subscriptions/GUID/resourceGroups/GROUP/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/NAME)"
            )
    return ids


def azml_identity_configuration(options):
    # The SDK's IdentityConfiguration for options' identity, None for Azure's default.
    if options is None or not options.identity_type:
        return None
    from azure.ai.ml.entities import IdentityConfiguration, ManagedIdentityConfiguration

    return IdentityConfiguration(
        type=options.identity_type,
        user_assigned_identities=[ManagedIdentityConfiguration(resource_id=i)
                                  for i in options.user_assigned_identities or []] or None,
    )


def azml_check_scale_settings(scale_settings, compute: str) -> dict:
    # Kubernetes scale_settings as the deployment YAML writes them: type default, or
    # target_utilization with min_instances, max_instances, polling_interval (seconds) and
    # target_utilization_percentage (REST API spec 2024-04-01, TargetUtilizationScaleSettings;
    # the SDK's TargetUtilizationScaleSettings). Managed deployments take the default only (the
    # SDK: "ManagedOnlineEndpoint supports DefaultScaleSettings only"; they autoscale through
    # Azure Monitor). The bounds are the cluster autoscaler's (Kubernetes HPA: at least one
    # replica, max not below min, a target above 0%), polling at least 1 s (the spec: precision
    # as low as seconds). Returns the settings with Azure's defaults filled in (1, 1, 1 s, 70%).
    if not scale_settings:
        return {}
    if not isinstance(scale_settings, dict):
        raise ValueError("scale_settings: must be a mapping such as {'type': "
                         "'target_utilization', 'min_instances': 1, 'max_instances': 3}")
    scale_settings = azml_whole_numbers(scale_settings)
    kind = scale_settings.get("type")
    if kind not in ("default", "target_utilization"):
        raise ValueError(f"scale_settings.type: {kind!r} is not one of default, "
                         "target_utilization")
    if kind == "default":
        if set(scale_settings) != {"type"}:
            raise ValueError("scale_settings: type default takes no other keys")
        return {}
    if not compute:
        raise ValueError("scale_settings: target_utilization applies to Kubernetes deployments "
                         "only (give compute); a managed deployment autoscales with autoscale")
    keys = {"min_instances": 1, "max_instances": 1, "polling_interval": 1,
            "target_utilization_percentage": 70}
    unknown = sorted(set(scale_settings) - set(keys) - {"type"})
    if unknown:
        raise ValueError(f"scale_settings: unknown keys {unknown} (known: {sorted(keys)})")
    checked = {**keys, **scale_settings}
    for key in keys:
        azml_check_range(f"scale_settings.{key}", checked[key], 1)
    azml_check_range("scale_settings.max_instances", checked["max_instances"],
                     checked["min_instances"])
    return checked


def azml_deployment_class(kind: str, options):
    # The SDK's deployment class, with the settings only that kind has.
    from azure.ai.ml.entities import (
        KubernetesOnlineDeployment,
        ManagedOnlineDeployment,
        ResourceRequirementsSettings,
        ResourceSettings,
    )

    if kind != "kubernetes":
        return ManagedOnlineDeployment, {}
    extra = {}
    if options.scale_settings:
        from azure.ai.ml.entities import TargetUtilizationScaleSettings

        extra["scale_settings"] = TargetUtilizationScaleSettings(
            **{k: v for k, v in options.scale_settings.items() if k != "type"}
        )
    # options: an AzmlDeploymentOptions record.
    if options.resource_requests or options.resource_limits:
        extra["resources"] = ResourceRequirementsSettings(
            requests=ResourceSettings(**options.resource_requests)
            if options.resource_requests else None,
            limits=ResourceSettings(**options.resource_limits)
            if options.resource_limits else None,
        )
    return KubernetesOnlineDeployment, extra


def azml_target_label(kind: str, compute: str) -> str:
    # How reports name the endpoint's kind.
    if kind == "kubernetes":
        return f"Kubernetes online endpoint on compute {compute}"
    return "managed online endpoint"


def azml_scale_settings_of(deployment) -> dict:
    # A deployment's target_utilization settings as plain values ({} for the default scale
    # settings), so a live deployment and a wanted one compare.
    settings = getattr(deployment, "scale_settings", None)
    if settings is None or "target" not in str(getattr(settings, "type", "")).lower():
        return {}
    return {key: getattr(settings, key, None) for key in (
        "min_instances", "max_instances", "polling_interval", "target_utilization_percentage")}
