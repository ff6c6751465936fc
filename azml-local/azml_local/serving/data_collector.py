"""The model data collector beside each scoring process: what Azure ML's data collector (MDC)
receives from azureml-ai-monitoring and from the scoring front door, written to blob storage.

What the scoring process sees (azureml-ai-monitoring 1.0.0, read from its source):
- config/config.py loadConfig: with AZUREML_MDC_CONFIG_PATH set, the JSON file there gives
  `collections: {name: {enabled, sampleRatePercentage}}` and `runMode` ("local" only logs);
  custom logging is on when a collection other than request/response is enabled; the collector
  posts to AZUREML_MDC_HOST:AZUREML_MDC_PORT (defaults 127.0.0.1:50011). A Collector whose
  collection is not enabled calls its on_error (raises by default); sampling is done in the
  scoring process (collector_json.py: drop when sampleRatePercentage <= random() * 100).
- worker/sender.py MdcSender: POST http://HOST:PORT/modeldata/log, body the DataFrame as
  `to_json(orient="records")` (Content-Type application/json) or bytes (compact format),
  headers trace-id (the event id), ce-time (epoch seconds), ce-type
  (azureml.inference.<collection>), ce-collect-data-type, ce-agent, ce-x-request-id (the
  correlation id), ce-model-version, and ce-<name> for each header of the correlation context.
  Sending runs on a worker thread; a failed post is logged, never raised into run().

What lands in storage ("Collect production data from models for real-time inferencing",
learn.microsoft.com, how-to-collect-production-data): JSON Lines under
modelDataCollector/{endpoint}/{deployment}/{collection}/{yyyy}/{MM}/{dd}/{HH}/{instance_id}.jsonl
in workspaceblobstore (or the collection's data.path), one event per line with specversion, id,
source (the deployment's ARM id), type, datacontenttype, time, data, correlationid, xrequestid,
modelversion, collectdatatype, agent and contentrange ("bytes 0-116/117"); payload logging's
`request` events add path and method (contentrange "bytes 0-59/*"). The REST spec's
DataCollector.rollingRate sets the folder depth ("If the rolling rate is hour ... /yyyy/MM/dd/HH/.
If it's day ... /yyyy/MM/dd/"); Minute, Month and Year follow the same pattern. The ce-* headers
become the event's attributes with the prefix and hyphens dropped (ce-x-request-id ->
xrequestid, ce-collect-data-type -> collectdatatype, ce-model-version -> modelversion, as the
page's examples show); captured request headers (requestLogging.captureHeaders) are added the
same way, a stand-in choice: the page shows no event with captured headers.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger("standin")

PAYLOAD = ("request", "response")
# Never collected, whatever captureHeaders says: they carry the endpoint's key or token.
SECRET_HEADERS = ("authorization", "x-api-key", "api-key", "ocp-apim-subscription-key")
_ROLL = {"Year": "%Y", "Month": "%Y/%m", "Day": "%Y/%m/%d", "Hour": "%Y/%m/%d/%H",
         "Minute": "%Y/%m/%d/%H/%M"}

# (container, blob name, line): append one line to a blob in Azurite.
Writer = Callable[[str, str, bytes], None]


@dataclass
class CollectorConfig:
    """A deployment's data collector as the scoring side needs it."""

    source: str  # the deployment's ARM id (each event's `source`)
    collections: dict[str, float]  # enabled collection -> sampling rate (0.0-1.0)
    destinations: dict[str, tuple[str, str]]  # collection -> (container, folder)
    rolling_rate: str = "Hour"
    capture_headers: list[str] = field(default_factory=list)

    def mdc_config(self) -> dict[str, Any]:
        """The file at AZUREML_MDC_CONFIG_PATH, in the shape azureml-ai-monitoring reads."""
        return {"collections": {name: {"enabled": True,
                                       "sampleRatePercentage": int(round(rate * 100))}
                                for name, rate in self.collections.items()},
                "runMode": "cloud"}

    def payload_logging(self, kind: str) -> bool:
        return kind in self.collections


def attribute(header: str) -> str:
    """A ce-* or captured header as an event attribute: lower case, hyphens dropped."""
    name = header.lower()
    name = name[3:] if name.startswith("ce-") else name
    return re.sub(r"[^a-z0-9]", "", name)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sidecar:
    """One data collector: an HTTP listener on 127.0.0.1 for azureml-ai-monitoring, the front
    door's payload events, and a writer thread that appends JSON Lines to blob storage.
    """

    def __init__(self, config: CollectorConfig, writer: Writer, work_dir: Path) -> None:
        self.config = config
        self.instance_id = str(uuid.uuid4())  # {instance_id}.jsonl: this collector's files
        self._writer = writer
        self._work_dir = Path(work_dir)
        self._queue: queue.Queue[tuple[str, float, dict[str, Any]] | None] = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._idle = threading.Condition()
        self.listening = True

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> dict[str, str]:
        """Listen and write; the environment variables the scoring process gets (as Azure
        sets them for its inference container).
        """
        sidecar = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # infra/web.py says why

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = sidecar.receive(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True,
                                          name="mdc-listener"),
                         threading.Thread(target=self._write_loop, daemon=True,
                                          name="mdc-writer")]
        for thread in self._threads:
            thread.start()
        self._work_dir.mkdir(parents=True, exist_ok=True)
        config_path = self._work_dir / "mdc-config.json"
        config_path.write_text(json.dumps(self.config.mdc_config()))
        return {"AZUREML_MDC_HOST": "127.0.0.1", "AZUREML_MDC_PORT": str(self.port),
                "AZUREML_MDC_CONFIG_PATH": str(config_path)}

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else 0

    def stop_listening(self) -> None:
        """Close the listener (the collector is gone); queued events are still written."""
        self.listening = False
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def stop(self) -> None:
        self.stop_listening()
        self._queue.put(None)

    def flush(self, timeout: float = 30) -> bool:
        """Wait until every received event is written."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    # --- events ---------------------------------------------------------------------------------
    def receive(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """A post from azureml-ai-monitoring (MdcSender); the HTTP status to answer."""
        if path.split("?")[0] != "/modeldata/log":
            return 404
        lower = {k.lower(): v for k, v in headers.items()}
        kind = lower.get("ce-type", "")
        collection = kind[len("azureml.inference."):] if kind.startswith(
            "azureml.inference.") else ""
        if collection not in self.config.collections or collection in PAYLOAD:
            return 400  # not an enabled custom-logging collection
        try:
            epoch = float(lower.get("ce-time") or 0) or None
        except ValueError:
            epoch = None
        event = self._event(lower.get("trace-id") or str(uuid.uuid4()), kind,
                            lower.get("content-type", "application/json"), epoch, body)
        correlation = lower.get("ce-x-request-id")
        if correlation is not None:
            event["correlationid"] = correlation
        for header, value in lower.items():
            if header.startswith("ce-") and header not in ("ce-time", "ce-type"):
                event[attribute(header)] = value
        self._enqueue(collection, event)
        return 200

    def payload(self, kind: str, body: bytes, content_type: str, correlation_id: str,
                headers: dict[str, str], path: str = "/score", method: str = "POST") -> None:
        """Payload logging: the front door's request or response, sampled at its rate."""
        if not self.listening:  # as a post to a collector that is gone
            raise ConnectionRefusedError("the data collector is not listening")
        rate = self.config.collections.get(kind)
        if rate is None or random.random() >= rate:
            return
        event = self._event(str(uuid.uuid4()), f"azureml.inference.{kind}", content_type, None,
                            body, whole=kind == "response")
        if kind == "request":
            event["path"], event["method"] = path, method
        event["correlationid"] = event["xrequestid"] = correlation_id
        wanted = {h.lower() for h in self.config.capture_headers} - set(SECRET_HEADERS)
        for header, value in headers.items():
            if header.lower() in wanted:
                event[attribute(header)] = value
        self._enqueue(kind, event)

    def _event(self, event_id: str, kind: str, content_type: str, epoch: float | None,
               body: bytes, whole: bool = True) -> dict[str, Any]:
        import time

        epoch = epoch or time.time()
        text = body.decode("utf-8", errors="replace")
        try:
            data: Any = json.loads(text) if "json" in content_type.lower() else text
        except ValueError:
            data = text
        size = len(body)
        return {"specversion": "1.0", "id": event_id, "source": self.config.source,
                "type": kind, "datacontenttype": content_type.split(";")[0].strip(),
                "time": iso(epoch), "data": data,
                "contentrange": f"bytes 0-{max(size - 1, 0)}/{size if whole else '*'}",
                "_epoch": epoch}

    def _enqueue(self, collection: str, event: dict[str, Any]) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put((collection, event.pop("_epoch"), event))

    def blob_name(self, collection: str, epoch: float) -> tuple[str, str]:
        """(container, blob) of `collection`'s file for the rolling window holding `epoch`."""
        container, folder = self.config.destinations[collection]
        window = datetime.fromtimestamp(epoch, timezone.utc).strftime(
            _ROLL.get(self.config.rolling_rate, _ROLL["Hour"]))
        return container, f"{folder.strip('/')}/{window}/{self.instance_id}.jsonl"

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            collection, epoch, event = item
            try:
                container, blob = self.blob_name(collection, epoch)
                self._writer(container, blob, (json.dumps(event) + "\n").encode())
            except Exception as error:  # noqa: BLE001 - a lost event must not stop the writer
                log.warning("data collector: writing %s failed: %s", collection, error)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
