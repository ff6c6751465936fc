"""An online deployment's dataCollector, as Azure checks and stores it.

Sources:
- REST API spec, machinelearningservices stable 2024-04-01 (mfe.json): OnlineDeploymentProperties
  has dataCollector (DataCollector: `collections` required, a map of Collection; requestLogging
  (RequestLogging: captureHeaders, a list of strings); rollingRate (RollingRateType: Year, Month,
  Day, Hour, Minute)). Collection: clientId and dataId strings, dataCollectionMode
  (DataCollectionMode: Enabled, Disabled), samplingRate a number ("Sampling rate 1.0 means we
  collect 100% of data by default"). "Collection request and response are reserved for payload
  logging, others are for custom logging." Enums match ignoring case (x-ms-enum modelAsString)
  and are stored as the spec spells them: azure-ai-ml 1.35.2 reads a collection back as enabled
  only when dataCollectionMode == "Enabled" (DeploymentCollection._from_rest_object).
- The sampling rate's range: azure-ai-ml's DataCollectorSchema ("Sampling rate must be an number
  in range (0.0-1.0)") and Microsoft's "Collect production data from models for real-time
  inferencing" ("a value of 1.0 represents collecting 100% of the data").
- Data assets: the page says data collected is "automatically registered as a data asset" named
  <endpoint>-<deployment>-<collection> (version 1, uri_folder under modelDataCollector/...);
  azure-ai-ml registers them itself before the PUT and sends their ids as dataId
  (OnlineDeploymentOperations._register_collection_data_assets). A collection that arrives
  without a dataId (a caller that is not the SDK) gets the same asset here.
"""

from __future__ import annotations

from typing import Any

from azml_local.infra.web import bad_request
from azml_local.resources.online_settings import enum_value

ROLLING_RATES = ("Year", "Month", "Day", "Hour", "Minute")
MODES = ("Enabled", "Disabled")
PAYLOAD = ("request", "response")  # reserved for payload logging (REST spec, DataCollector)
MDC_ROOT = "modelDataCollector"  # azure-ai-ml's DEFAULT_MDC_PATH, under workspaceblobstore


def checked(props: dict[str, Any]) -> dict[str, Any] | None:
    """The deployment's dataCollector as Azure stores it (None when absent), or a 400."""
    value = props.get("dataCollector")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("'dataCollector' must be an object.")
    collections = value.get("collections")
    if not isinstance(collections, dict):
        raise bad_request("'dataCollector.collections' is required: an object of collections.")
    result: dict[str, Any] = {"collections": {}}
    for name, collection in collections.items():
        result["collections"][name] = _collection(f"dataCollector.collections.{name}",
                                                  collection)
    rolling = value.get("rollingRate")
    if rolling is not None:
        result["rollingRate"] = enum_value("dataCollector.rollingRate", rolling, ROLLING_RATES)
    logging = value.get("requestLogging")
    if logging is not None:
        headers = logging.get("captureHeaders") if isinstance(logging, dict) else None
        if not isinstance(logging, dict) or not (
            headers is None or (isinstance(headers, list)
                                and all(isinstance(h, str) for h in headers))
        ):
            raise bad_request("'dataCollector.requestLogging.captureHeaders' must be a list of "
                              "header names.")
        result["requestLogging"] = {"captureHeaders": headers}
    return result


def _collection(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"'{path}' must be an object.")
    result: dict[str, Any] = {}
    mode = value.get("dataCollectionMode")
    result["dataCollectionMode"] = "Disabled" if mode is None else enum_value(
        f"{path}.dataCollectionMode", mode, MODES)
    rate = value.get("samplingRate")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise bad_request(f"'{path}.samplingRate' must be a number from 0.0 to 1.0, not "
                              f"'{rate}'.")
        result["samplingRate"] = float(rate)
    for key in ("dataId", "clientId"):
        if value.get(key) is not None:
            if not isinstance(value[key], str):
                raise bad_request(f"'{path}.{key}' must be a string.")
            result[key] = value[key]
    return result


def enabled(collector: dict[str, Any] | None) -> dict[str, float]:
    """{collection name in lower case: sampling rate} of the enabled collections (the name
    azureml-ai-monitoring matches: its loadConfig lower-cases the configured names).
    """
    if not collector:
        return {}
    return {name.lower(): float(c.get("samplingRate", 1.0))
            for name, c in collector["collections"].items()
            if c.get("dataCollectionMode") == "Enabled"}


def asset_name(endpoint: str, deployment: str, collection: str) -> str:
    """The data asset Azure registers for a collection (the page; azure-ai-ml's name)."""
    return f"{endpoint}-{deployment}-{collection}"


def default_path(endpoint: str, deployment: str, collection: str) -> str:
    return f"{MDC_ROOT}/{endpoint}/{deployment}/{collection}"


def register_missing_assets(ctx: Any, workspace_id: str, endpoint: str, deployment: str,
                            collector: dict[str, Any] | None, who: str) -> None:
    """Give each collection without a dataId the data asset Azure registers for it (version 1,
    uri_folder at its default path), as azure-ai-ml does before its PUT.
    """
    from azml_local.infra.state import PRIVATE
    from azml_local.resources.assets import creation_order
    from azml_local.resources.context import system_data

    if not collector:
        return
    for name, collection in collector["collections"].items():
        if collection.get("dataId"):
            continue
        asset = asset_name(endpoint, deployment, name)
        cid = f"{workspace_id}/data/{asset}"
        vid = f"{cid}/versions/1"
        folder = default_path(endpoint, deployment, name)
        uri = f"azureml://datastores/workspaceblobstore/paths/{folder}"
        with ctx.store.lock:
            if ctx.store.get(cid) is None:
                ctx.store.put({
                    "id": cid, "name": asset,
                    "type": "Microsoft.MachineLearningServices/workspaces/data",
                    "properties": {"isArchived": False, "description": None, "tags": {},
                                   "properties": {}, "dataType": "uri_folder"},
                    "systemData": system_data(None, who),
                })
            if ctx.store.get(vid) is None:
                ctx.store.put({
                    "id": vid, "name": "1",
                    "type": "Microsoft.MachineLearningServices/workspaces/data/versions",
                    "properties": {"dataType": "uri_folder", "dataUri": uri, "isAnonymous": False,
                                   "isArchived": False, "tags": {}, "properties": {},
                                   "description": None, "provisioningState": "Succeeded"},
                    "systemData": system_data(None, who),
                    PRIVATE: {"order": creation_order()},
                })
        collection["dataId"] = vid


def destinations(ctx: Any, endpoint: str, deployment: str,
                 collector: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    """{collection: (container, folder)} where each enabled collection's data goes: its data
    asset's path (data.path in the YAML), else workspaceblobstore's modelDataCollector/...
    """
    from azml_local.resources.assets import resolve_blob

    found = {}
    wanted = enabled(collector)
    for name, collection in (collector or {}).get("collections", {}).items():
        if name.lower() not in wanted:
            continue
        data = ctx.store.get(collection.get("dataId", "")) if collection.get("dataId") else None
        uri = (data or {}).get("properties", {}).get("dataUri")
        if uri:
            found[name.lower()] = resolve_blob(ctx, uri)
        else:
            found[name.lower()] = (ctx.blob_container, default_path(endpoint, deployment, name))
    return found
