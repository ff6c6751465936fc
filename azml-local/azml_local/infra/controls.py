"""Test controls: the request log and the faults tests inject (routes under /_standin/)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from azml_local.infra.web import ApiError, Request, Response, Router, bad_request


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    remaining: int
    method: str = ""
    status: int = 503
    retry_after: int | None = None
    outcome: str = ""
    delay: float = 0.0
    release: threading.Event | None = None  # a Hold: the operation stays InProgress until set
    endpoint: str = ""
    deployment: str = ""


def _count(body: dict[str, Any]) -> int:
    count = body.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise bad_request("count must be a positive integer")
    return count


def _regex(body: dict[str, Any]) -> re.Pattern[str]:
    try:
        return re.compile(str(body["path_regex"]), re.IGNORECASE)
    except (KeyError, re.error) as exc:
        raise bad_request(f"path_regex: {exc}") from exc


class Controls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self._http: list[_Fault] = []
        self._lro: list[_Fault] = []
        self._scoring: list[_Fault] = []
        self._blob: list[_Fault] = []
        self._blob_log: list[dict[str, Any]] = []
        self._internal: list[dict[str, Any]] = []
        self._holds: list[threading.Event] = []  # Hold faults handed to operations, not released
        self._relay_blobs = False  # from the first blob fault until clear_faults
        self._mirror: dict[str, list[dict[str, Any]]] = {}

    # --- hooks used by the server -------------------------------------------------------------
    def record(self, method: str, path: str, status: int, body: Any = None,
               internal_error: str = "") -> None:
        # The request log (cleared by tests); an ARM write's JSON body is kept in it, so a test
        # can read what was written and in which order. An unhandled exception in local mode's
        # own code is also kept apart, never cleared: it is a bug of local mode, not an answer
        # Azure would give, and the test session fails on it.
        entry: dict[str, Any] = {"method": method, "path": path, "status": status}
        if body is not None:
            entry["body"] = body
        with self._lock:
            self._log.append(entry)
            if internal_error:
                self._internal.append({"method": method, "path": path, "error": internal_error})

    def _take_request_fault(self, faults: list[_Fault], method: str, target: str) -> _Fault | None:
        # The first fault for this method and path, one use of it consumed (HTTP and blob).
        with self._lock:
            for fault in faults:
                if fault.method in ("", method) and fault.pattern.search(target):
                    self._take(faults, fault)
                    return fault
        return None

    def http_fault(self, method: str, path: str) -> Response | None:
        fault = self._take_request_fault(self._http, method, path)
        if fault is None:
            return None
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        message = f"Injected fault {fault.status} for {method} {path}."
        return ApiError(fault.status, "InjectedFault", message, headers).response()

    def lro_fault(self, resource_id: str) -> tuple[str, float, threading.Event | None] | None:
        """(outcome, delay, release) for an LRO on this resource, consuming one use of the fault.

        A Hold keeps the operation InProgress until a test releases it (or clears the faults):
        a crash test kills a run on that observed state, however busy the machine is.
        """
        with self._lock:
            for fault in self._lro:
                if fault.pattern.search(resource_id):
                    self._take(self._lro, fault)
                    release = None
                    if fault.outcome == "Hold":
                        release = threading.Event()
                        self._holds.append(release)
                    return fault.outcome, fault.delay, release
        return None

    def internal_error(self, where: str, error: str) -> None:
        # An unhandled exception in a long-running operation's own work: a local-mode bug.
        with self._lock:
            self._internal.append({"method": "LRO", "path": where, "error": error})

    def scoring_fault(self, endpoint: str, deployment: str) -> int | None:
        with self._lock:
            for fault in self._scoring:
                if fault.endpoint.lower() == endpoint.lower() and fault.deployment.lower() in (
                    "",
                    deployment.lower(),
                ):
                    self._take(self._scoring, fault)
                    return fault.status
        return None

    # Blob requests reach Azurite through the CONNECT proxy; it relays them (and so sees them)
    # from the first blob fault a test arms until the faults are cleared, so the log shows the
    # retries after a fault too (blob_relay.py). Before that, tunnels are byte pipes.
    def relaying_blobs(self) -> bool:
        with self._lock:
            return self._relay_blobs

    def blob_fault(self, method: str, target: str) -> tuple[int, int | None] | None:
        """(status, retry_after) for this blob request (path and query), consuming one use."""
        fault = self._take_request_fault(self._blob, method, target)
        return None if fault is None else (fault.status, fault.retry_after)

    def record_blob(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self._blob_log.append({"method": method, "path": target, "status": status,
                                   "time": time.time()})

    def mirror(self, endpoint: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._mirror.setdefault(endpoint.lower(), []).append(entry)

    @staticmethod
    def _take(faults: list[_Fault], fault: _Fault) -> None:
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.remove(fault)

    # --- routes -----------------------------------------------------------------------------
    def add_routes(self, router: Router) -> None:
        def requests(_: Request) -> Response:
            with self._lock:
                return Response(200, {"requests": list(self._log)})

        def internal_errors(_: Request) -> Response:
            with self._lock:
                return Response(200, {"errors": list(self._internal)})

        def clear_requests(_: Request) -> Response:
            with self._lock:
                self._log.clear()
                self._blob_log.clear()
            return Response(200, {})

        def http_fault_from(body: dict[str, Any]) -> _Fault:
            status = body.get("status", 503)
            retry = body.get("retry_after")
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise bad_request("status must be an HTTP error status")
            if retry is not None and (not isinstance(retry, int) or retry < 0):
                raise bad_request("retry_after must be a non-negative integer")  # as Azure
            return _Fault(
                _regex(body), _count(body), str(body.get("method", "")).upper(), status, retry
            )

        def add_fault(request: Request) -> Response:
            fault = http_fault_from(request.json_object())
            with self._lock:
                self._http.append(fault)
            return Response(200, {})

        def add_blob_fault(request: Request) -> Response:
            fault = http_fault_from(request.json_object())
            with self._lock:
                self._blob.append(fault)
                self._relay_blobs = True
            return Response(200, {})

        def blob_requests(_: Request) -> Response:
            with self._lock:
                return Response(200, {"requests": list(self._blob_log)})

        def add_lro_fault(request: Request) -> Response:
            body = request.json_object()
            outcome = body.get("outcome")
            if outcome not in ("Failed", "Slow", "Hold"):
                raise bad_request("outcome must be Failed, Slow or Hold")
            delay = float(body.get("delay_seconds", 5))
            fault = _Fault(_regex(body), _count(body), outcome=outcome, delay=delay)
            with self._lock:
                self._lro.append(fault)
            return Response(200, {})

        def add_scoring_fault(request: Request) -> Response:
            body = request.json_object()
            if not body.get("endpoint"):
                raise bad_request("endpoint is required")
            fault = _Fault(
                re.compile(""),
                _count(body),
                status=int(body.get("status", 500)),
                endpoint=str(body["endpoint"]),
                deployment=str(body.get("deployment", "")),
            )
            with self._lock:
                self._scoring.append(fault)
            return Response(200, {})

        def release_holds(request: Request) -> Response:
            # Every held operation finishes `after_seconds` from now (Azure keeps working on an
            # operation whose caller is gone).
            after = float(request.json_object().get("after_seconds", 0))
            with self._lock:
                held, self._holds = self._holds, []
            for release in held:
                threading.Timer(after, release.set).start()
            return Response(200, {"released": len(held)})

        def clear_faults(_: Request) -> Response:
            with self._lock:
                for release in self._holds:
                    release.set()
                self._holds.clear()
                self._http.clear()
                self._lro.clear()
                self._scoring.clear()
                self._blob.clear()
                self._relay_blobs = False
            return Response(200, {})

        def mirror_log(request: Request) -> Response:
            endpoint = request.query.get("endpoint", "").lower()
            with self._lock:
                return Response(200, {"requests": list(self._mirror.get(endpoint, []))})

        router.add("GET", "/_standin/requests", requests)
        router.add("GET", "/_standin/internal_errors", internal_errors)
        router.add("POST", "/_standin/lro-faults/release", release_holds)
        router.add("DELETE", "/_standin/requests", clear_requests)
        router.add("POST", "/_standin/faults", add_fault)
        router.add("DELETE", "/_standin/faults", clear_faults)
        router.add("POST", "/_standin/lro-faults", add_lro_fault)
        router.add("POST", "/_standin/scoring-faults", add_scoring_fault)
        router.add("POST", "/_standin/blob-faults", add_blob_fault)
        router.add("GET", "/_standin/blob-requests", blob_requests)
        router.add("GET", "/_standin/mirror-log", mirror_log)
