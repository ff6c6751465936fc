"""Start local mode's Azure ML as a subprocess and talk to its test controls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from azml_local.infra.procs import die_with_parent


class LocalAzureMLError(RuntimeError):
    pass


class LocalAzureML:
    """A running local Azure ML (`python -m azml_local`); use as a context manager."""

    def __init__(self, proc: subprocess.Popen[bytes], state_dir: Path, env: dict[str, str]):
        self.proc, self.state_dir, self.env = proc, state_dir, env
        self.url: str = env["AZML_LOCAL_URL"]
        #: The pre-created workspace, as the components' and MLClient's keyword arguments take it.
        self.workspace = {
            "subscription_id": env["AZ_SUBSCRIPTION_ID"],
            "resource_group": env["AZML_LOCAL_RESOURCE_GROUP"],
            "workspace_name": env["AZML_LOCAL_WORKSPACE"],
        }
        self._session = requests.Session()
        self._session.trust_env = False  # controls go straight to 127.0.0.1
        self._session.verify = env["REQUESTS_CA_BUNDLE"]

    # --- test controls ------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_standin/requests")["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/_standin/requests")

    def internal_errors(self) -> list[dict[str, Any]]:
        """Unhandled exceptions in local mode's own code (answered 500), since it started."""
        return self._call("GET", "/_standin/internal_errors")["errors"]

    def fault(
        self, method: str, path_regex: str, status: int = 503, retry_after: int | None = 1,
        count: int = 1,
    ) -> None:
        body = {"method": method, "path_regex": path_regex, "status": status, "count": count}
        if retry_after is not None:
            body["retry_after"] = retry_after
        self._call("POST", "/_standin/faults", json=body)

    def lro_fault(
        self, path_regex: str, outcome: str = "Failed", delay_seconds: float = 5, count: int = 1
    ) -> None:
        body = {"path_regex": path_regex, "outcome": outcome, "delay_seconds": delay_seconds,
                "count": count}
        self._call("POST", "/_standin/lro-faults", json=body)

    def scoring_fault(
        self, endpoint: str, deployment: str = "", status: int = 500, count: int = 1
    ) -> None:
        body = {"endpoint": endpoint, "deployment": deployment, "status": status, "count": count}
        self._call("POST", "/_standin/scoring-faults", json=body)

    def collector_down(self, endpoint: str, deployment: str) -> bool:
        """Stop the deployment's data collector sidecar from listening (its scoring process
        keeps running and cannot reach it); True when there was one.
        """
        body = {"endpoint": endpoint, "deployment": deployment}
        return self._call("POST", "/_standin/collector-faults", json=body)["stopped"]

    def blob_fault(
        self, method: str, path_regex: str, status: int = 503, count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next `count` blob requests whose method and path (with its query) match get
        `status`, answered as Azure Storage answers (503 ServerBusy, 500 OperationTimedOut).
        Tunnels opened from now until clear_faults() are relayed (and logged, blob_requests);
        arm it before the client connects.
        """
        body = {"method": method, "path_regex": path_regex, "status": status, "count": count}
        if retry_after is not None:
            body["retry_after"] = retry_after
        self._call("POST", "/_standin/blob-faults", json=body)

    def blob_requests(self) -> list[dict[str, Any]]:
        """Blob requests the proxy relayed (from the first blob_fault until clear_faults)."""
        return self._call("GET", "/_standin/blob-requests")["requests"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/_standin/faults")

    def release_lro_holds(self, after_seconds: float = 0) -> int:
        """Let every operation held by a Hold fault finish after ``after_seconds``."""
        done = self._call("POST", "/_standin/lro-faults/release",
                          json={"after_seconds": after_seconds})
        return done["released"]

    def mirror_log(self, endpoint: str) -> list[dict[str, Any]]:
        return self._call("GET", "/_standin/mirror-log", params={"endpoint": endpoint})["requests"]

    # --- lifecycle ----------------------------------------------------------------------------
    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._session.close()

    def __enter__(self) -> LocalAzureML:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(state_dir: Path, port: int = 0, timeout: float = 120) -> LocalAzureML:
    """Run the stand-in as a child process and wait until it has written ready.json."""
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / "ready.json"
    ready.unlink(missing_ok=True)
    log = open(state_dir / "standin.log", "ab")  # the child owns it from here
    env = {k: v for k, v in os.environ.items() if k != "AZUREML_CURRENT_CLOUD"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "azml_local", "--state-dir", str(state_dir),
         "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=die_with_parent(),
    )
    log.close()
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            tail = (state_dir / "standin.log").read_text(errors="replace")[-4000:]
            raise LocalAzureMLError(f"stand-in did not start (exit {proc.returncode}):\n{tail}")
        time.sleep(0.1)
    data = json.loads(ready.read_text())
    return LocalAzureML(proc, state_dir, data["env"])
