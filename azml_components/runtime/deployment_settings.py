# The serving settings of an online deployment and its endpoint (issue 21): request settings,
# liveness and readiness probes, Application Insights, network access, description and tags,
# and the endpoint's auth mode. Checked before any call to Azure, built into the SDK's
# entities, and compared with a live deployment or endpoint for the no-op redeploy.
#
# Sources (every default and range below):
# - "CLI (v2) managed online deployment YAML schema" (learn.microsoft.com,
#   reference-yaml-deployment-managed-online): RequestSettings (request_timeout_ms default 5000,
#   "the maximum value allowed is 180000 milliseconds"; max_concurrent_requests_per_instance
#   default 1; max_queue_wait_ms default 500, deprecated), ProbeSettings (initial_delay default
#   10, minimum 1; period default 10; timeout default 2, minimum 1; success_threshold default 1,
#   "Minimum value is 1 for readiness probe. The value for liveness probe is fixed as 1";
#   failure_threshold default 30, minimum 1), app_insights_enabled (default false),
#   egress_public_network_access (enabled or disabled, default enabled, managed only);
# - the REST API spec (machinelearningservices stable 2024-04-01, mfe.json): OnlineRequestSettings
#   and ProbeSettings (int32 counts, ISO 8601 durations), EgressPublicNetworkAccessType and
#   PublicNetworkAccessType (Enabled, Disabled);
# - azure-ai-ml 1.35.2: OnlineRequestSettings sends milliseconds as ISO durations and reads them
#   back through from_iso_duration_format_ms, which keeps whole seconds only (1500 ms reads back
#   as 1000), so a duration that is not whole seconds cannot be compared with what Azure has:
#   such a deployment is always written again (azml_same_serving_settings);
#   ProbeSettings takes seconds. The YAML schema's auth_mode field (StringTransformedEnum with
#   casing_transform=camel_to_snake over AMLToken, Key, AADToken) accepts Key, key, AMLToken,
#   aml_token, AmlToken... alike.
from typing import Optional

from azml_components.runtime.calls import azml_enum_text
from azml_components.runtime.rollout_state import azml_check_tags
from azml_components.runtime.validation import azml_check_range, azml_string_map


def azml_request_defaults() -> dict:
    # Azure's defaults (see the top of this module).
    return {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 1,
            "max_queue_wait_ms": 500}


def azml_probe_defaults() -> dict:
    return {"initial_delay": 10, "period": 10, "timeout": 2, "success_threshold": 1,
            "failure_threshold": 30}


def azml_check_request_settings(value: Optional[dict]) -> dict:
    # {"request_timeout_ms": 90000, ...}: the keys of Microsoft's deployment YAML. Returns the
    # given keys only (an absent key is Azure's default).
    settings = azml_check_setting_map("request_settings", value, azml_request_defaults())
    for key, number in settings.items():
        if key == "max_concurrent_requests_per_instance":
            azml_check_range(f"request_settings.{key}", number, 1)
            continue
        high = 180000 if key == "request_timeout_ms" else None
        azml_check_range(f"request_settings.{key}", number, 1, high)
    return settings


def azml_check_probe(field: str, value: Optional[dict]) -> dict:
    # liveness_probe / readiness_probe: {"initial_delay": 10, "period": 10, "timeout": 2,
    # "success_threshold": 1, "failure_threshold": 30} (seconds and counts), given keys only.
    settings = azml_check_setting_map(field, value, azml_probe_defaults())
    for key, number in settings.items():
        azml_check_range(f"{field}.{key}", number, 1)
    if field == "liveness_probe" and settings.get("success_threshold", 1) != 1:
        raise ValueError(
            f"liveness_probe.success_threshold: {settings['success_threshold']} must be 1 (Azure "
            "fixes a liveness probe's success threshold at 1)"
        )
    return settings


def azml_check_setting_map(field: str, value: Optional[dict], known: dict) -> dict:
    # A mapping of known keys to whole numbers (a KFP dict input may carry them as floats).
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be a mapping such as {{{next(iter(known))!r}: ...}}")
    settings = {}
    for key, number in value.items():
        if key not in known:
            raise ValueError(f"{field}: {key!r} is not one of {', '.join(known)}")
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        settings[key] = azml_check_range(f"{field}.{key}", number, 0)
    return settings


def azml_check_network_access(field: str, value: str, compute: str, default: str) -> str:
    # enabled or disabled in any case (the SDK's StringTransformedEnum lower-cases; the REST
    # enums are case-insensitive). Managed endpoints only: the SDK's Kubernetes entities have no
    # such field, so "disabled" with compute is refused. "" is `default`.
    text = (value or default).strip().lower() if isinstance(value, str) else value
    if text not in ("enabled", "disabled", ""):
        raise ValueError(f"{field}: {value!r} is not one of enabled, disabled")
    if text == "disabled" and compute:
        raise ValueError(
            f"{field}: applies to managed online endpoints only; a Kubernetes deployment "
            "(compute) cannot set it"
        )
    return text


def azml_check_auth_mode(value: str) -> str:
    # key or aml_token, in any case the SDK's YAML schema accepts (camel_to_snake: Key, AMLToken,
    # AmlToken, aml_token...). Returns the SDK's YAML spelling.
    import re

    text = value if isinstance(value, str) else ""
    snake = re.sub("([a-z0-9])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text))
    if snake.lower() not in ("key", "aml_token"):
        raise ValueError(
            f"auth_mode: {value!r} is not one of key, aml_token (Key and AMLToken are the same)"
        )
    return snake.lower()


def azml_check_tag_map(field: str, value: Optional[dict], reserved: tuple = ()) -> dict:
    # Azure Resource Manager's tag limits ("Use tags to organize your Azure resources",
    # limitations: at most 50 tags, names up to 512 characters without < > % & \ ? /, values up
    # to 256); names in `reserved` are set by the components themselves.
    tags = azml_string_map(field, value)
    if len(tags) > 50 - len(reserved):
        raise ValueError(f"{field}: {len(tags)} tags; at most {50 - len(reserved)} (Azure allows "
                         f"50 on a resource and the components add {len(reserved)})")
    for name in tags:
        if name in reserved or name.startswith("azml-rollout-"):
            raise ValueError(f"{field}: {name!r} is set by the components themselves")
    azml_check_tags(field, tags)  # each name's and value's limits
    return tags


def azml_lineage_keys() -> tuple:
    # The deployment tags naming the KFP run that last wrote it (as register_model tags a model).
    return ("kfp_run_id", "kfp_pipeline")


def azml_request_settings_entity(settings: dict):
    # None when nothing is given: Azure then applies its defaults.
    from azure.ai.ml.entities import OnlineRequestSettings

    return OnlineRequestSettings(**settings) if settings else None


def azml_probe_entity(settings: dict):
    from azure.ai.ml.entities import ProbeSettings

    return ProbeSettings(**settings) if settings else None


def azml_effective(entity, defaults: dict) -> dict:
    # A live or wanted settings entity's values, Azure's default for each one not set; the
    # millisecond durations in whole seconds, as the SDK reads them back.
    values = {}
    for key, default in defaults.items():
        value = getattr(entity, key, None) if entity is not None else None
        value = default if value is None else value
        values[key] = (value // 1000) * 1000 if key.endswith("_ms") else value
    return values


def azml_network_text(entity, attribute: str) -> str:
    # enabled or disabled (the SDK may give a str enum, EgressPublicNetworkAccessType.DISABLED);
    # unset is Azure's default, enabled.
    value = getattr(entity, attribute, None) or "enabled"
    return azml_enum_text(value).lower()


def azml_same_serving_settings(live, deployment) -> bool:
    # Whether the live deployment has every serving setting `deployment` would give it: request
    # settings and probes (an unset one is Azure's default), Application Insights, egress,
    # description and tags (the lineage tags aside: they name the run that last wrote it).
    lineage = azml_lineage_keys()

    def own_tags(entity) -> dict:
        return {k: str(v) for k, v in (entity.tags or {}).items() if k not in lineage}

    request, probe = azml_request_defaults(), azml_probe_defaults()
    wanted = deployment.request_settings
    if any((getattr(wanted, key, None) or 0) % 1000 for key in request if key.endswith("_ms")):
        return False  # not whole seconds: what Azure has cannot be read back to compare
    return (
        azml_effective(live.request_settings, request)
        == azml_effective(deployment.request_settings, request)
        and azml_effective(live.liveness_probe, probe)
        == azml_effective(deployment.liveness_probe, probe)
        and azml_effective(live.readiness_probe, probe)
        == azml_effective(deployment.readiness_probe, probe)
        and bool(live.app_insights_enabled) == bool(deployment.app_insights_enabled)
        and azml_network_text(live, "egress_public_network_access")
        == azml_network_text(deployment, "egress_public_network_access")
        and (live.description or "") == (deployment.description or "")
        and own_tags(live) == own_tags(deployment)
    )


def azml_endpoint_changes(endpoint, options) -> dict:
    # What the options change on an existing endpoint: {attribute: new value}. Endpoint settings
    # not given are kept (the endpoint is shared by its deployments); given tags are added or
    # changed, the endpoint's other tags (a rollout record's among them) are kept.
    changes = {}
    if options.endpoint_description and options.endpoint_description != (
        endpoint.description or ""
    ):
        changes["description"] = options.endpoint_description
    access = options.public_network_access
    current = azml_network_text(endpoint, "public_network_access")
    if access and access != current and not getattr(endpoint, "compute", None):
        changes["public_network_access"] = access
    tags = dict(endpoint.tags or {})
    given = options.endpoint_tags or {}
    differ = {name: value for name, value in given.items() if tags.get(name) != value}
    if differ:
        if len({**tags, **given}) > 50:
            raise ValueError(
                f"endpoint_tags: endpoint {endpoint.name!r} would have {len({**tags, **given})} "
                "tags; Azure allows at most 50 on a resource"
            )
        changes["tags"] = differ  # added to the endpoint's tags as they are when written
    return changes
