# An online deployment's data collector (issue 22): which collections Azure ML logs to blob
# storage (custom logging from the scoring script, `model_inputs`/`model_outputs` or any name;
# payload logging, `request`/`response`), the sampling and rolling rates and the request headers
# payload logging captures. Checked before any call to Azure, built into the SDK's entities and
# compared with a live deployment for the no-op redeploy.
#
# Sources:
# - Microsoft's "Collect production data from models for real-time inferencing" (learn.microsoft
#   .com, how-to-collect-production-data): the YAML keys (data_collector.collections.<name>.
#   enabled 'True', .data.name/.path/.version, rolling_rate Minute, Hour, Day, Month or Year,
#   sampling_rate "a decimal rate ... 1.0 represents collecting 100%"), payload logging under the
#   reserved names request and response, data assets <endpoint>-<deployment>-<collection>;
# - the REST API spec (machinelearningservices stable 2024-04-01, mfe.json): DataCollector
#   (collections required; requestLogging.captureHeaders; rollingRate RollingRateType Year,
#   Month, Day, Hour, Minute), Collection (dataCollectionMode Enabled/Disabled, dataId,
#   clientId, samplingRate "1.0 means we collect 100% of data by default");
# - azure-ai-ml 1.35.2: DataCollectorSchema (sampling_rate "must be an number in range
#   (0.0-1.0)"), DeploymentCollectionSchema (enabled required, 'true' or 'false' in any case),
#   and OnlineDeploymentOperations._register_collection_data_assets, which registers each
#   collection's data asset (name <endpoint>-<deployment>-<collection> unless data.name, version
#   "1", path azureml://datastores/workspaceblobstore/paths/modelDataCollector/<endpoint>/
#   <deployment>/<collection>) before it writes the deployment: a collection's name must make a
#   valid asset name (ModelVersions' pattern ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$).
from typing import Optional

from azml_components.runtime.calls import azml_enum_text
from azml_components.runtime.validation import azml_check_asset_name, azml_check_asset_version


def azml_rolling_rates() -> tuple:
    # RollingRateType (REST spec), Azure's spelling; Hour is the default (the page's blob path
    # ends .../{yyyy}/{MM}/{dd}/{HH}/).
    return ("Year", "Month", "Day", "Hour", "Minute")


def azml_check_data_collector(value: Optional[dict]) -> dict:
    # {"collections": {"model_inputs": {"enabled": "True"}, ...}, "sampling_rate": 1.0,
    # "rolling_rate": "Hour", "request_logging": {"capture_headers": ["x-client"]}}: the keys of
    # Microsoft's deployment YAML. Returns it normalised (enabled a bool, rolling_rate Azure's
    # spelling, data a {name, path, version} mapping); {} for no data collector.
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValueError('data_collector: must be a mapping such as {"collections": '
                         '{"model_inputs": {"enabled": "True"}}}')
    known = ("collections", "sampling_rate", "rolling_rate", "request_logging")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"data_collector: {', '.join(map(repr, unknown))} is not one of "
                         f"{', '.join(known)}")
    collections = value.get("collections")
    if not isinstance(collections, dict) or not collections:
        raise ValueError("data_collector.collections: required, a mapping of collection names "
                         '(model_inputs, model_outputs, request, response...) to {"enabled": '
                         '"True"}')
    checked = {"collections": {name: azml_check_collection(name, spec)
                               for name, spec in collections.items()}}
    if value.get("sampling_rate") is not None:
        rate = value["sampling_rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"data_collector.sampling_rate: {rate!r} must be a number between "
                             "0.0 and 1.0 (1.0 collects every request)")
        checked["sampling_rate"] = float(rate)
    if value.get("rolling_rate") is not None:
        rates = {rate.lower(): rate for rate in azml_rolling_rates()}
        rolling = value["rolling_rate"]
        if not isinstance(rolling, str) or rolling.lower() not in rates:
            raise ValueError(f"data_collector.rolling_rate: {rolling!r} is not one of "
                             f"{', '.join(azml_rolling_rates())}")
        checked["rolling_rate"] = rates[rolling.lower()]
    if value.get("request_logging") is not None:
        checked["request_logging"] = azml_check_request_logging(value["request_logging"])
    return checked


def azml_check_collection(name, spec) -> dict:
    # One collection: {"enabled": "True"} (required), optionally "data": {"name", "path",
    # "version"} (the data asset the collected data is registered as) and "client_id".
    import re

    field = f"data_collector.collections.{name}"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", name):
        raise ValueError(f"data_collector.collections: {name!r} is not a valid collection name; "
                         "it must start with a letter or digit and hold only letters, digits, "
                         "'-' and '_' (it names the collection's data asset)")
    if not isinstance(spec, dict):
        raise ValueError(f'{field}: must be a mapping such as {{"enabled": "True"}}')
    unknown = sorted(set(spec) - {"enabled", "data", "client_id"})
    if unknown:
        raise ValueError(f"{field}: {', '.join(map(repr, unknown))} is not one of enabled, data, "
                         "client_id")
    enabled = spec.get("enabled")
    text = str(enabled).lower() if isinstance(enabled, (bool, str)) else ""
    if text not in ("true", "false"):
        raise ValueError(f"{field}.enabled: {enabled!r} must be 'True' or 'False' (required)")
    checked = {"enabled": text == "true"}
    if spec.get("data") is not None:
        checked["data"] = azml_check_collection_data(f"{field}.data", spec["data"])
    if spec.get("client_id") is not None:
        if not isinstance(spec["client_id"], str) or not spec["client_id"]:
            raise ValueError(f"{field}.client_id: must be a managed identity's client id")
        checked["client_id"] = spec["client_id"]
    return checked


def azml_check_collection_data(field: str, data) -> dict:
    # {"name": ..., "path": "azureml://datastores/<datastore>/paths/<path>", "version": 1}: name
    # and path required (the page: "The required parameter data.name ... data.path"), version
    # optional (defaults to 1).
    import re

    if not isinstance(data, dict):
        raise ValueError(f'{field}: must be a mapping {{"name": ..., "path": ..., "version": ...}}')
    unknown = sorted(set(data) - {"name", "path", "version"})
    if unknown:
        raise ValueError(f"{field}: {', '.join(map(repr, unknown))} is not one of name, path, "
                         "version")
    name = azml_check_asset_name(f"{field}.name", data.get("name"))
    path = data.get("path")
    if not isinstance(path, str) or not re.fullmatch(
        r"azureml://(subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
        r"datastores/[^/]+/paths/.+", path, flags=re.IGNORECASE
    ):
        raise ValueError(f"{field}.path: {path!r} must be a datastore path, "
                         "azureml://datastores/<datastore>/paths/<path>")
    version = data.get("version", 1)
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # KFP hands dict inputs over with every number a float
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ValueError(f"{field}.version: {version!r} must be a version such as 1")
    return {"name": name, "path": path.rstrip("/"),
            "version": azml_check_asset_version(f"{field}.version", str(version))}


def azml_check_request_logging(value) -> dict:
    # {"capture_headers": ["x-client-id", ...]}: HTTP header names (RFC 9110 tokens). The
    # components never collect credentials: Authorization is refused.
    import re

    if not isinstance(value, dict) or set(value) - {"capture_headers"}:
        raise ValueError('data_collector.request_logging: must be {"capture_headers": [...]}')
    headers = value.get("capture_headers") or []
    if not isinstance(headers, list):
        raise ValueError("data_collector.request_logging.capture_headers: must be a list of "
                         "header names")
    for header in headers:
        if not isinstance(header, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+",
                                                           header):
            raise ValueError(f"data_collector.request_logging.capture_headers: {header!r} is "
                             "not an HTTP header name")
        if header.lower() == "authorization":
            raise ValueError("data_collector.request_logging.capture_headers: Authorization "
                             "carries the endpoint's key or token and is never collected")
    return {"capture_headers": list(headers)}


def azml_data_collector_entity(settings: dict):
    # The SDK's DataCollector for checked settings (None for none). The SDK copies
    # sampling_rate onto each collection and registers each collection's data asset.
    if not settings:
        return None
    from azure.ai.ml.entities import (
        DataAsset,
        DataCollector,
        DeploymentCollection,
        RequestLogging,
    )

    collections = {}
    for name, spec in settings["collections"].items():
        data = spec.get("data")
        collections[name] = DeploymentCollection(
            enabled="true" if spec["enabled"] else "false",
            data=DataAsset(**data) if data else None,
            client_id=spec.get("client_id"),
        )
    logging = settings.get("request_logging")
    return DataCollector(
        collections=collections,
        rolling_rate=settings.get("rolling_rate"),
        sampling_rate=settings.get("sampling_rate"),
        request_logging=RequestLogging(**logging) if logging else None,
    )


def azml_data_collector_of(entity, endpoint_name: str, deployment_name: str) -> dict:
    # A wanted or live DataCollector in one comparable form, Azure's defaults filled in: every
    # collection's enabled flag, data asset (name, version) and client id, the sampling rate
    # (1.0), the rolling rate (Hour) and the captured headers. {} for none.
    if entity is None or not getattr(entity, "collections", None):
        return {}
    collections = {}
    for name, collection in entity.collections.items():
        data = collection.data
        if data is None or (not isinstance(data, str) and not data.name):
            asset = (f"{endpoint_name}-{deployment_name}-{name}".lower(), "1")
        elif isinstance(data, str):
            parts = data.rstrip("/").split("/")
            asset = (parts[-3].lower(), parts[-1]) if len(parts) >= 3 else (data.lower(), "")
        else:
            asset = (str(data.name).lower(), str(data.version or "1"))
        collections[name.lower()] = (str(collection.enabled).lower() == "true", asset,
                                     collection.client_id or "")
    rate = getattr(entity, "sampling_rate", None)
    logging = getattr(entity, "request_logging", None)
    headers = getattr(logging, "capture_headers", None) or []
    return {
        "collections": collections,
        "sampling_rate": 1.0 if rate is None else float(rate),
        "rolling_rate": azml_enum_text(entity.rolling_rate or "Hour").lower(),
        "capture_headers": sorted(str(h).lower() for h in headers),
    }


def azml_same_data_collector(live, deployment) -> bool:
    # Whether the live deployment collects what `deployment` would make it collect.
    names = (deployment.endpoint_name, deployment.name)
    return azml_data_collector_of(getattr(live, "data_collector", None), *names) == \
        azml_data_collector_of(getattr(deployment, "data_collector", None), *names)
