"""Long-running operations the way ARM runs them: Azure-AsyncOperation + Location headers, an
integer Retry-After, and a status document that moves InProgress -> Succeeded/Failed.
"""

from __future__ import annotations

import secrets
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from azml_local.infra.controls import Controls
from azml_local.infra.web import ApiError, Request, Response, Router

OPS = "/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}"
API = "api-version=2023-04-01-preview"


class LroFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Operations:
    def __init__(self, controls: Controls, subscription_id: str, location: str) -> None:
        self._controls = controls
        self._prefix = OPS.format(sub=subscription_id, loc=location)
        self._lock = threading.Lock()
        self._ops: dict[str, dict[str, Any]] = {}

    def start(
        self,
        request: Request,
        resource_id: str,
        work: Callable[[], None],
        on_failure: Callable[[LroFailure], None],
    ) -> dict[str, str]:
        """Run `work` in the background; returns the headers of the accepting response."""
        op_id = secrets.token_hex(12)
        with self._lock:
            self._ops[op_id] = {
                "id": f"{self._prefix}/mfeOperationsStatus/{op_id}",
                "name": op_id,
                "status": "InProgress",
                "startTime": now_iso(),
            }
        fault = self._controls.lro_fault(resource_id)
        threading.Thread(
            target=self._run, args=(op_id, work, on_failure, fault), name=f"lro-{op_id}",
            daemon=True,  # a stop must not wait for a provisioning in progress
        ).start()
        base = request.base_url + self._prefix
        return {
            "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op_id}?{API}",
            "Location": f"{base}/mfeOperationResults/{op_id}?{API}",
            "Retry-After": "1",  # an integer: the SDK's DELETE poller parses it with int()
        }

    def _run(
        self,
        op_id: str,
        work: Callable[[], None],
        on_failure: Callable[[LroFailure], None],
        fault: tuple[str, float, threading.Event | None] | None,
    ) -> None:
        try:
            if fault and fault[0] == "Slow":
                time.sleep(fault[1])
            if fault and fault[2] is not None:
                fault[2].wait()  # Hold: until the test releases it
            if fault and fault[0] == "Failed":
                raise LroFailure("InjectedFailure", "The operation failed (injected by a test).")
            work()
        except Exception as exc:  # every failure becomes the operation's error document
            if not isinstance(exc, LroFailure):
                traceback.print_exc()
                self._controls.internal_error(f"operation {op_id}", repr(exc))
                exc = LroFailure("InternalServerError", repr(exc))
            try:
                on_failure(exc)
            finally:
                self._finish(op_id, "Failed", {"code": exc.code, "message": exc.message})
            return
        self._finish(op_id, "Succeeded")

    def _finish(self, op_id: str, status: str, error: dict[str, str] | None = None) -> None:
        with self._lock:
            op = self._ops[op_id]
            op.update(status=status, endTime=now_iso())
            if error:
                op["error"] = error

    def _get(self, request: Request) -> dict[str, Any]:
        with self._lock:
            op = self._ops.get(request.params["op"])
            if op is None:
                raise ApiError(404, "ResourceNotFound", "Operation not found.")
            return dict(op)

    def add_routes(self, router: Router) -> None:
        def status(request: Request) -> Response:
            op = self._get(request)
            # Without Retry-After on each poll the SDK waits its default 30 s between polls.
            headers = {"Retry-After": "1"} if op["status"] == "InProgress" else {}
            return Response(200, op, headers)

        def result(request: Request) -> Response:
            op = self._get(request)
            if op["status"] == "InProgress":
                headers = {"Location": request.base_url + request.path, "Retry-After": "1"}
                return Response(202, None, headers)
            if op["status"] == "Failed":
                return Response(200, {"status": "Failed", "error": op["error"]})
            return Response(200, {})

        router.add("GET", OPS + "/mfeOperationsStatus/{op}", status)
        router.add("GET", OPS + "/mfeOperationResults/{op}", result)
