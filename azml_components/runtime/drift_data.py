# Reading the tables check_drift compares: files (CSV, JSON Lines) from a KFP artifact or a
# downloaded data asset, and the data an online deployment's data collector wrote. The layout and
# records are Microsoft's "Collect production data from models deployed for real-time inferencing"
# (how-to-collect-production-data, "Store collected data in Blob Storage"): blobs at
# modelDataCollector/{endpoint}/{deployment}/{collection}/{yyyy}/{MM}/{dd}/{HH}/{instance_id}.jsonl
# in the workspace blob store (the rolling rate sets the depth: DataCollector.rollingRate in the
# REST spec, Minute to Year), one JSON object per line whose "data" holds the logged DataFrame's
# rows and "time" when it was collected.
from typing import Optional

from azml_components.runtime.calls import azml_call
from azml_components.runtime.records import AzmlTable


def azml_cell(text: str):
    # A CSV cell as a JSON value would be: empty -> None, whole numbers -> int, numbers -> float.
    text = text.strip()
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def azml_table(rows: list, sources: list, skipped: int = 0) -> AzmlTable:
    # Rows (dicts) as columns, in first-seen column order; a row without a column holds None.
    names = []
    for row in rows:
        names += [name for name in row if name not in names]
    columns = {name: [row.get(name) for row in rows] for name in names}
    return AzmlTable(columns=columns, rows=len(rows), sources=sources, skipped=skipped)


def azml_parse_time(field: str, value: str):
    # An ISO 8601 time (a trailing Z or an offset); a time without an offset is UTC.
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise ValueError(f"{field}: {value!r} is not an ISO 8601 time such as "
                         "2026-01-31T15:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def azml_window(window_end: str, lookback_window: str, now=None) -> tuple:
    # The production window [end - lookback, end): lookback is an ISO 8601 duration in days,
    # hours and minutes (Azure ML's lookback_window_size, e.g. P1D or PT6H); end defaults to now.
    import re
    from datetime import datetime, timedelta, timezone

    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?", lookback_window or "")
    if not match or not any(match.groups()) or lookback_window.endswith("T"):
        raise ValueError(f"lookback_window: {lookback_window!r} is not an ISO 8601 duration in "
                         "days, hours or minutes such as P1D, PT6H or P7DT12H")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    size = timedelta(days=days, hours=hours, minutes=minutes)
    if size <= timedelta(0):
        raise ValueError(f"lookback_window: {lookback_window!r} must be longer than zero")
    end = azml_parse_time("window_end", window_end) if window_end else (
        now or datetime.now(timezone.utc))
    return end - size, end


def azml_collected_rows(line: str, start=None, end=None) -> tuple:
    # One JSON Lines record: the data collector's (rows under "data", kept when "time" is in the
    # window) or a plain row object. Returns (rows, skipped): a record whose data is not a list
    # of row objects (payload logging's raw bodies) is skipped, as Azure's monitors need
    # tabular data (how-to-collect-production-data, "Perform payload logging").
    import json

    try:
        record = json.loads(line)
    except ValueError:
        return [], 1
    if not isinstance(record, dict):
        return [], 1
    if "specversion" not in record:
        return [record], 0
    if start is not None and "time" in record:
        moment = azml_parse_time("time", record["time"])
        if not start <= moment < end:
            return [], 0
    data = record.get("data")
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return data, 0
    return [], 1


def azml_file_format(path: str) -> str:
    # csv or jsonl: by extension, else by the first line (a KFP artifact's file has none).
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".json")):
        return "jsonl"
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    return "jsonl" if first.lstrip().startswith("{") else "csv"


def azml_read_files(paths: list, start=None, end=None) -> AzmlTable:
    # CSV files (a header row) and JSON Lines files (.jsonl, .json), in the order given.
    import csv

    rows, skipped = [], 0
    for path in paths:
        with open(path, encoding="utf-8", newline="") as handle:
            if azml_file_format(path) == "csv":
                rows += [{k: azml_cell(v or "") for k, v in row.items() if k is not None}
                         for row in csv.DictReader(handle)]
                continue
            for line in handle:
                if line.strip():
                    found, bad = azml_collected_rows(line, start, end)
                    rows += found
                    skipped += bad
    return azml_table(rows, list(paths), skipped)


def azml_table_files(path: str) -> list:
    # The readable files of a file or folder (recursively, sorted): .csv, .jsonl, .json and
    # files without an extension (as KFP names artifacts); MLTable and hidden files are not data.
    import os

    if os.path.isfile(path):
        return [path]
    found = []
    for folder, _, names in sorted(os.walk(path)):
        found += [os.path.join(folder, name) for name in sorted(names)
                  if (name.lower().endswith((".csv", ".jsonl", ".json")) or "." not in name)
                  and name != "MLTable" and not name.startswith(".")]
    return found


def azml_partition_span(parts: list) -> Optional[tuple]:
    # The time span a rolled folder covers: yyyy[/MM[/dd[/HH[/mm]]]] (the rolling rates Year,
    # Month, Day, Hour, Minute); None when the parts are not such a path.
    from datetime import datetime, timedelta, timezone

    numbers = []
    for part in parts[:5]:
        if not part.isdigit():
            break
        numbers.append(int(part))
    if not numbers:
        return None
    try:
        start = datetime(*(numbers + [1, 1][: max(0, 3 - len(numbers))]), tzinfo=timezone.utc)
    except ValueError:
        return None
    if len(numbers) == 1:
        return start, start.replace(year=start.year + 1)
    if len(numbers) == 2:
        month = start.month % 12 + 1
        return start, start.replace(year=start.year + (month == 1), month=month)
    step = {3: timedelta(days=1), 4: timedelta(hours=1), 5: timedelta(minutes=1)}[len(numbers)]
    return start, start + step


def azml_collected_blob_names(names: list, prefix: str, start, end) -> list:
    # The .jsonl blobs under prefix whose rolled folder overlaps [start, end).
    chosen = []
    for name in names:
        if not name.startswith(prefix) or not name.endswith(".jsonl"):
            continue
        span = azml_partition_span(name[len(prefix):].split("/")[:-1])
        if span and span[0] < end and start < span[1]:
            chosen.append(name)
    return sorted(chosen)


def azml_read_collected(client, endpoint_name: str, deployment_name: str, collection: str,
                        start, end, folder: str) -> AzmlTable:
    # The collection's rows in [start, end) from the workspace blob store, read with the
    # datastore's own credentials (the SDK's get_datastore_info, as its uploads do).
    import os

    from azure.ai.ml._artifacts._artifact_utilities import get_datastore_info
    from azure.storage.blob import ContainerClient

    info = azml_call("reading the workspace blob store", get_datastore_info,
                     client.datastores, "workspaceblobstore")
    container = ContainerClient(info["account_url"], info["container_name"],
                                credential=info["credential"])
    prefix = f"modelDataCollector/{endpoint_name}/{deployment_name}/{collection}/"
    names = azml_call(f"listing {prefix}", lambda: [
        blob.name for blob in container.list_blobs(name_starts_with=prefix)])
    paths = []
    for index, name in enumerate(azml_collected_blob_names(names, prefix, start, end)):
        path = os.path.join(folder, f"{index:05d}.jsonl")
        with open(path, "wb") as out:
            out.write(azml_call(f"reading {name}",
                                lambda n=name: container.download_blob(n).readall()))
        paths.append(path)
    table = azml_read_files(paths, start, end)
    return table._replace(sources=[f"{info['container_name']}/{prefix}"])


def azml_read_data_asset(client, uri: str, folder: str) -> AzmlTable:
    # A registered data asset (azureml:NAME:VERSION) or a datastore path (azureml://...), as
    # files downloaded through the SDK.
    from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

    path = uri
    if uri.startswith("azureml:") and not uri.startswith("azureml://"):
        name, _, version = uri[len("azureml:"):].partition(":")
        asset = azml_call(f"reading data asset {uri}", client.data.get, name, version=version)
        path = asset.path
    local = azml_call(f"downloading {path}", download_artifact_from_aml_uri, path, folder,
                      client.datastores)
    return azml_read_files(azml_table_files(local))._replace(sources=[uri])
