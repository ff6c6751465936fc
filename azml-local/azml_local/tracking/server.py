"""MLflow's own tracking server as a child process of local mode, started on first use.

Azure ML serves MLflow's REST API per workspace (how-to-use-mlflow-configure-tracking: "Azure
Machine Learning workspaces are MLflow-compatible ... they can act as MLflow servers"). Local
mode runs the real thing, `mlflow server` from PyPI's `mlflow` package, bound to 127.0.0.1 with a
SQLite store in the state directory, and forwards the workspace's MLflow routes to it (routes.py);
it never answers MLflow's REST API itself. The server lives in its own virtual environment, built
once by the same cache as scoring environments (serving/environments.py): full mlflow pins
pandas<3 and more, which must not meet the components' pins in one environment.

Starting it takes seconds, so it starts on the first MLflow request or job, not with local mode.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azml_local.infra.procs import die_with_parent
from azml_local.infra.web import ApiError

#: The MLflow tracking server's package. The same version as the mlflow-skinny that
#: azureml-mlflow 1.62.0.post6 accepts (it requires mlflow-skinny<=3.15.0), so server and job
#: clients speak one MLflow version (azml_components.pins.MLFLOW_TRACKING_PACKAGES; a test
#: compares them).
MLFLOW_SERVER = "mlflow==3.15.0"

#: Where runs' artifacts are said to live in MLflow's store. A fixed name, not this run's
#: address (the port changes across restarts of one state dir); routes.py rewrites it to the
#: workspace's Azure-shaped artifact URI in every answer.
STORED_ROOT = "azureml://azml-local/experiments"


class TrackingError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env() -> dict[str, str]:
    """The server's environment: loopback only (no proxy), and without MLflow 3's server-side
    job runner (`MLFLOW_SERVER_ENABLE_JOB_EXECUTION`, default on: a huey consumer pool for
    MLflow's GenAI jobs, mlflow/server/__init__.py), which Azure ML's endpoint does not offer.
    """
    from azml_local.serving.installer import scoring_env

    return {**scoring_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class TrackingServer:
    """One `mlflow server` process on 127.0.0.1, started on first use."""

    def __init__(self, state_dir: Path, environments_of) -> None:  # type: ignore[no-untyped-def]
        # environments_of: () -> serving.environments.EnvironmentCache (made lazily by provision).
        self.dir = Path(state_dir) / "mlflow"
        self._environments_of = environments_of
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        # The kernel's parent-death signal (die_with_parent) follows the thread that started the
        # child, and requests are served on short-lived threads: spawn from one that lives on.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-spawner")

    @property
    def db_uri(self) -> str:
        return f"sqlite:///{self.dir / 'mlflow.db'}"

    def python(self) -> Path:
        """The interpreter of the server's environment (built on first call, then cached)."""
        from azml_local.serving.environments import ProvisionError, ScoringEnvironment

        try:
            venv = self._environments_of().get(ScoringEnvironment(pip=[MLFLOW_SERVER]))
        except ProvisionError as error:
            raise TrackingError(f"the MLflow tracking server could not be installed:\n"
                                f"{error.logs}") from error
        return venv / "bin" / "python"

    def ensure_started(self, timeout: float = 180) -> int:
        """The server's port, starting it first if it is not running."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self.port
            self.dir.mkdir(parents=True, exist_ok=True)
            self.port = _free_port()
            log = open(self.dir / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
            self._proc = self._spawner.submit(
                subprocess.Popen,
                [str(self.python()), "-m", "mlflow", "server",
                 "--backend-store-uri", self.db_uri, "--default-artifact-root", STORED_ROOT,
                 "--no-serve-artifacts", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, env=_server_env(),
                start_new_session=True, preexec_fn=die_with_parent(),
            ).result()
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                try:
                    if self._call("GET", "/health", b"", {})[0] == 200:
                        return self.port
                except OSError:
                    pass
                time.sleep(0.3)
            self._stop_locked()
            tail = (self.dir / "server.log").read_text(errors="replace")[-3000:]
            raise TrackingError(f"the MLflow tracking server did not start:\n{tail}")

    def forward(self, method: str, path: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Send one request to the server (started if needed): (status, headers, body)."""
        try:
            self.ensure_started()
        except TrackingError as error:
            raise ApiError(503, "ServiceUnavailable", str(error)) from error
        return self._call(method, path, body, headers)

    def _call(self, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() == "content-type"}
            return response.status, kept, data
        finally:
            connection.close()

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        # `mlflow server` runs uvicorn as its own child: stop the process group it leads.
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None
