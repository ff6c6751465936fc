"""Scoring processes for the stand-in's deployments, run as Azure ML runs them.

Each deployment gets azureml-inference-server-http (the server Azure ML itself runs) under
gunicorn bound to 127.0.0.1, in a virtual environment built from the deployment's environment
(environments.py: what gets installed; installer.py: how). Environments resolve from the package
index pip is configured for, or, with `$AZML_LOCAL_WHEELHOUSE` set, offline from that wheelhouse
only (`python -m azml_local.serving.manager --fill-wheelhouse DIR` fills it).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import requests

from azml_local.serving import installer, probes
from azml_local.serving.data_collector import Sidecar
from azml_local.serving.environments import (
    SERVER,
    EnvironmentCache,
    ProvisionError,
    ScoringEnvironment,
    find_mlmodel,
    for_mlflow_model,
    from_conda_file,
    has_server,
)
from azml_local.serving.settings import WORKER_COUNT, ServingSettings

__all__ = ["ProvisionError", "ScoringEnvironment", "ServingManager", "ServingSettings"]

SUPPORT = Path(__file__).resolve().parent / "support"
# What `--fill-wheelhouse` downloads by default: an MLflow model's environment as MLflow records
# it from this interpreter (mlflow==<version>, cloudpickle, pandas, psutil, scikit-learn), each
# resolved on its own.
_MLFLOW_RECORDED = ["cloudpickle", "pandas", "psutil", "scikit-learn"]


class NotServing(Exception):
    """The deployment's scoring process is not running."""


class TooManyPending(Exception):
    """As many requests as the deployment takes at once are in flight already."""


class ScoringTimeout(Exception):
    """The scoring process did not answer within the deployment's request timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds} s")
        self.seconds = seconds


@dataclass
class _Served:
    process: subprocess.Popen[bytes]
    port: int
    settings: ServingSettings
    in_flight: int = 0
    collector: Sidecar | None = None


class ServingManager:
    """Starts, routes to and stops one scoring process per deployment key."""

    def __init__(self, work_dir: Path, env_cache_dir: Path, wheelhouse: Path | None) -> None:
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.environments = EnvironmentCache(env_cache_dir, wheelhouse)
        self._lock = threading.Lock()
        self._procs: dict[str, _Served] = {}
        self._session = requests.Session()
        self._session.trust_env = False  # scoring processes are on loopback, never via a proxy

    @property
    def builds(self) -> int:
        """Environments built by this manager (tests check the cache with it)."""
        return self.environments.builds

    # --- processes ------------------------------------------------------------------------------
    def start(self, key: str, *, model_dir: Path, code_dir: Path | None,
              scoring_script: str | None, conda_file: str | dict | None = None,
              environment: ScoringEnvironment | None = None,
              env_vars: dict[str, str], settings: ServingSettings | None = None,
              collector: Sidecar | None = None) -> None:
        """Start the scoring process for `key`; block until its readiness probe succeeds or raise
        ProvisionError.

        The environment is `environment` if given (a curated one), else built from `conda_file`;
        `code_dir` None means MLflow no-code (the model's own environment, our scoring script).
        `settings`: the deployment's instance count, probes and request limits (Azure's defaults
        when None). `collector`: the deployment's data collector (data_collector.py), started
        beside the process, which gets its AZUREML_MDC_* variables.
        """
        settings = settings or ServingSettings()
        self.stop(key)
        log_path = self._log_path(key)
        extra: dict[str, str] = {}
        try:
            if code_dir is None:
                custom = collector.config.collections if collector else {}
                environment = for_mlflow_model(Path(model_dir), collect=any(
                    name in custom for name in ("model_inputs", "model_outputs")))
                code_dir, scoring_script = SUPPORT, "mlflow_score.py"
                # Azure's MLflow scoring script finds the model in this folder of the model dir.
                folder = find_mlmodel(Path(model_dir)).parent.relative_to(model_dir)
                extra["MLFLOW_MODEL_FOLDER"] = str(folder)
                if collector is not None:  # Azure's MLflow script collects only with it
                    extra["ENABLE_MDC"] = "true"
            elif environment is None:
                environment = from_conda_file(conda_file)
            env_dir = self.environments.get(environment)
        except ProvisionError as error:
            log_path.write_text(error.logs + "\n")  # get_logs shows the failed build too
            raise
        notes = [f"Note: {note}\n" for note in environment.notes]
        if not has_server(env_dir):
            # Azure's inference images refuse to start a container without the server.
            log_path.write_text("".join(notes) + "A required package azureml-inference-server-"
                                "http is missing. Please install azureml-inference-server-http "
                                "before trying again.\n")
            raise ProvisionError("no inference server", log_path.read_text())
        port = _free_port()
        if collector is not None:  # Azure's platform variables win over the user's
            extra.update(collector.start())
        env = {**installer.scoring_env(), **env_vars, **extra,
               "AML_APP_ROOT": str(code_dir), "AZUREML_ENTRY_SCRIPT": str(scoring_script),
               "AZUREML_MODEL_DIR": str(model_dir), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "w") as log:
            log.writelines(notes)
            try:  # the server's own start-up parses it so (amlserver.py: int(WORKER_COUNT))
                per_instance = int(settings.worker_count)
            except ValueError as error:
                log.write(f"ValueError: {error} (environment variable {WORKER_COUNT})\n")
                log.close()
                if collector is not None:
                    collector.stop()
                raise ProvisionError("scoring process exited", self.logs(key)) from error
            log.flush()
            # One container per instance, WORKER_COUNT workers in each: here one gunicorn with
            # instance_count x WORKER_COUNT sync workers, each serving one request at a time.
            process = subprocess.Popen(
                [str(env_dir / "bin" / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
                 "-w", str(max(1, per_instance) * settings.instance_count),
                 "--timeout", "300", "--chdir", str(code_dir),
                 "azureml_inference_server_http.server.entry:app"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(code_dir),
                start_new_session=True,  # its own process group, so stop() reaches every child
            )
        with self._lock:
            self._procs[key] = _Served(process, port, settings, collector=collector)
        url = f"http://127.0.0.1:{port}/"
        try:
            ready = probes.wait_ready(lambda timeout: probes.ask(self._session, url, timeout),
                                      lambda: process.poll() is None,
                                      settings.readiness, settings.liveness)
        except probes.ProbeFailed as failed:
            self.stop(key)
            raise ProvisionError("scoring process not ready", self.logs(key) + f"\n{failed}",
                                 detail=str(failed)) from failed
        if not ready:
            self._forget(key)
            if collector is not None:
                collector.stop()
            raise ProvisionError("scoring process exited", self.logs(key))

    def score(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """Forward one scoring request to `key`'s process: its (status, headers, body).

        Raises NotServing, TooManyPending (the deployment's max_pending in flight already) or
        ScoringTimeout (no answer within its request timeout; the worker keeps running it).
        """
        with self._lock:
            served = self._procs.get(key)
            if served is None or served.process.poll() is not None:
                raise NotServing(key)
            limit = served.settings.max_pending
            if limit is not None and served.in_flight >= limit:
                raise TooManyPending(key)
            served.in_flight += 1
        try:
            response = self._session.post(
                f"http://127.0.0.1:{served.port}/score", data=body, headers=headers,
                timeout=(10, served.settings.request_timeout))
        except requests.Timeout as error:  # a read timeout: no answer in time
            raise ScoringTimeout(served.settings.request_timeout) from error
        finally:
            with self._lock:
                served.in_flight -= 1
        kept = {k: v for k, v in response.headers.items()
                if k.lower() in ("content-type", "x-ms-request-id", "x-ms-run-function-failed")}
        return response.status_code, kept, response.content

    def collector(self, key: str) -> Sidecar | None:
        """`key`'s data collector (None without data collection)."""
        with self._lock:
            served = self._procs.get(key)
        return served.collector if served else None

    def logs(self, key: str, tail: int | None = None) -> str:
        """The scoring process's output (last `tail` lines)."""
        path = self._log_path(key)
        if not path.exists():
            return ""
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def running(self, key: str) -> bool:
        with self._lock:
            served = self._procs.get(key)
        return served is not None and served.process.poll() is None

    def pid(self, key: str) -> int | None:
        with self._lock:
            served = self._procs.get(key)
        return served.process.pid if served else None

    def stop(self, key: str) -> None:
        """Stop `key`'s process group: SIGTERM, then SIGKILL after a few seconds."""
        served = self._forget(key)
        if served is None:
            return
        if served.collector is not None:
            served.collector.stop()
        process = served.process
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        _signal_group(process, signal.SIGKILL)  # stragglers of an exited master

    def stop_all(self) -> None:
        """Stop every scoring process."""
        with self._lock:
            keys = list(self._procs)
        for key in keys:
            self.stop(key)
        self._session.close()

    def _forget(self, key: str):
        with self._lock:
            return self._procs.pop(key, None)

    def _log_path(self, key: str) -> Path:
        return self.work_dir / (re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".log")


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wheelhouse_requirements() -> list[list[str]]:
    """The requirement set `--fill-wheelhouse` downloads by default (see _MLFLOW_RECORDED).

    Only MLflow's recorded environment: a custom model's packages are its own, given as
    arguments (azml-components' wheelhouse session passes its example's).
    """
    mlflow = [f"mlflow=={importlib.metadata.version('mlflow-skinny')}", SERVER]
    for name in _MLFLOW_RECORDED:
        try:
            mlflow.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return [mlflow]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stand-in scoring support")
    parser.add_argument("--fill-wheelhouse", type=Path, required=True, metavar="DIR",
                        help="download scoring environments' wheels into DIR (offline mode)")
    parser.add_argument("requirements", nargs="*",
                        help="one requirement set to download instead of "
                        "MLflow's (e.g. azureml-inference-server-http==1.5.1 numpy)")
    args = parser.parse_args(argv)
    sets = [args.requirements] if args.requirements else wheelhouse_requirements()
    installer.fill_wheelhouse(args.fill_wheelhouse, sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
