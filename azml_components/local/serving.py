"""Scoring processes for the stand-in's deployments, run as Azure ML runs them.

Each deployment gets azureml-inference-server-http (the server Azure ML itself runs) under
gunicorn bound to 127.0.0.1, in a virtual environment built from the deployment environment's
pip requirements. Environments are built once per distinct requirement set, offline, from the
wheelhouse `$AZML_LOCAL_WHEELHOUSE` (`python -m azml_components.local.serving --fill-wheelhouse DIR`
fills it: the only step that talks to a package registry), so tests never reach the network.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import yaml

SERVER = "azureml-inference-server-http==1.5.1"
# The server asks for gunicorn>=23.0.0; pinned so every environment runs the same one.
GUNICORN = "gunicorn==27.0.1"
MLFLOW = "mlflow-skinny==3.17.2"
SUPPORT = Path(__file__).resolve().parent / "serving_support"
# What the wheelhouse holds: the inference server, the example's and the tests' model stacks.
WHEELHOUSE_REQUIREMENTS = [
    SERVER,
    GUNICORN,
    MLFLOW,
    "scikit-learn==1.9.1",
    "joblib==1.6.0",
    "pandas==3.1.1",
]
# MLflow writes the training environment's exact versions into requirements.txt; the wheelhouse
# must hold those too, so they are read from the environment that fills it.
_MLFLOW_RECORDED = ["cloudpickle", "psutil", "numpy", "scipy"]
READY_TIMEOUT = 120.0


class ProvisionError(Exception):
    """A deployment could not start; `logs` is what a user would see in get_logs."""

    def __init__(self, message: str, logs: str) -> None:
        super().__init__(message)
        self.logs = logs


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirements_from_conda(conda_file: str | None) -> tuple[list[str], list[str]]:
    """(pip requirements, notes) of a conda environment file's text."""
    if not conda_file:
        return [], []
    parsed = yaml.safe_load(conda_file) or {}
    pip: list[str] = []
    notes: list[str] = []
    for dependency in parsed.get("dependencies", []) or []:
        if isinstance(dependency, dict):
            pip += [str(r) for r in dependency.get("pip", []) or []]
        elif _name(str(dependency)) not in ("python", "pip"):
            notes.append(f"conda package {dependency!r} is not installed by the stand-in")
    return pip, notes


def requirements_for_mlflow(model_dir: Path) -> list[str]:
    """The MLflow model's requirements.txt, with mlflow served by mlflow-skinny, plus pandas."""
    found = next(iter(sorted(model_dir.rglob("MLmodel"))), None)
    if found is None:
        raise ProvisionError("no MLmodel", f"No MLmodel file under the model ({model_dir}).")
    requirements = [MLFLOW, "pandas"]
    listed = found.parent / "requirements.txt"
    if listed.is_file():
        for line in listed.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-") and _name(line) not in ("mlflow",
                                                                         "mlflow-skinny"):
                requirements.append(line)
    return requirements


def normalise(requirements: list[str]) -> list[str]:
    """Deduplicated by name (a pinned line wins), with the server and gunicorn, sorted."""
    chosen: dict[str, str] = {}
    named = {_name(r) for r in requirements}
    defaults = [SERVER] + ([] if "gunicorn" in named else [GUNICORN])
    for requirement in [*defaults, *requirements]:
        name = _name(requirement)
        if name not in chosen or ("==" in requirement and "==" not in chosen[name]):
            chosen[name] = requirement.strip()
    return sorted(chosen.values(), key=str.lower)


class ServingManager:
    """Starts, routes to and stops one scoring process per deployment key."""

    def __init__(self, work_dir: Path, env_cache_dir: Path, wheelhouse: Path | None) -> None:
        self.work_dir = Path(work_dir)
        self.env_cache_dir = Path(env_cache_dir)
        self.wheelhouse = Path(wheelhouse) if wheelhouse else None
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.env_cache_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        self._session = requests.Session()
        self._session.trust_env = False  # scoring processes are on loopback, never via a proxy
        self.builds = 0  # environments built by this manager (tests check the cache with it)

    # --- environments ---------------------------------------------------------------------------
    def environment(self, requirements: list[str]) -> Path:
        """The virtual environment for `requirements`, built on first use."""
        wanted = normalise(requirements)
        digest = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
        target = self.env_cache_dir / digest
        if (target / ".complete").exists():
            return target
        with open(self.env_cache_dir / f"{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build per environment, across processes
            if (target / ".complete").exists():
                return target
            self._build(target, wanted)
        return target

    def _build(self, target: Path, wanted: list[str]) -> None:
        if self.wheelhouse is None or not self.wheelhouse.is_dir():
            raise ProvisionError(
                "no wheelhouse",
                "Image build failed: the stand-in has no wheelhouse to install from; run "
                "`python3 -m nox -s wheelhouse` first.",
            )
        # Built beside the target and renamed into place, so a half-built environment is never
        # seen; we only ever run `bin/python -m ...`, which does not depend on the venv's path.
        staging = target.with_name(f"{target.name}.building-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        result = _install(staging, wanted, self.wheelhouse, self.env_cache_dir / ".uv-cache")
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ProvisionError(
                "environment build failed",
                "Image build failed while installing the environment's pip requirements:\n"
                f"  {' '.join(wanted)}\n{result.stdout[-3000:]}{result.stderr[-6000:]}",
            )
        (staging / "requirements.txt").write_text("\n".join(wanted) + "\n")
        (staging / ".complete").write_text(f"built in {time.monotonic() - started:.1f} s\n")
        shutil.rmtree(target, ignore_errors=True)  # leftovers of an interrupted old-style build
        os.rename(staging, target)
        self.builds += 1

    # --- processes ------------------------------------------------------------------------------
    def start(self, key: str, *, model_dir: Path, code_dir: Path | None,
              scoring_script: str | None, conda_file: str | None,
              env_vars: dict[str, str]) -> None:
        """Start the scoring process for `key`; block until it answers or raise ProvisionError."""
        self.stop(key)
        notes: list[str] = []
        if code_dir is None:
            requirements = requirements_for_mlflow(Path(model_dir))
            code_dir, scoring_script = SUPPORT, "mlflow_score.py"
        else:
            requirements, notes = requirements_from_conda(conda_file)
        log_path = self._log_path(key)
        try:
            env_dir = self.environment(requirements)
        except ProvisionError as error:
            log_path.write_text(error.logs + "\n")  # get_logs shows the failed build too
            raise
        port = _free_port()
        env = {**_clean_env(), **env_vars,
               "AML_APP_ROOT": str(code_dir), "AZUREML_ENTRY_SCRIPT": str(scoring_script),
               "AZUREML_MODEL_DIR": str(model_dir), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "w") as log:
            for note in notes:
                log.write(f"Note: {note}\n")
            log.flush()
            process = subprocess.Popen(
                [str(env_dir / "bin" / "python"), "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
                 "-w", "1", "--timeout", "300", "--chdir", str(code_dir),
                 "azureml_inference_server_http.server.entry:app"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(code_dir),
                start_new_session=True,  # its own process group, so stop() reaches every child
            )
        with self._lock:
            self._procs[key] = (process, port)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._forget(key)
                raise ProvisionError("scoring process exited", self.logs(key))
            try:
                if self._session.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.stop(key)
        raise ProvisionError("scoring process not ready", self.logs(key) +
                             f"\nNot ready after {READY_TIMEOUT:.0f} s.")

    def score(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """Forward one scoring request to `key`'s process."""
        with self._lock:
            entry = self._procs.get(key)
        if entry is None or entry[0].poll() is not None:
            message = b"The deployment's container is not running."
            return 502, {"Content-Type": "text/plain"}, message
        response = self._session.post(f"http://127.0.0.1:{entry[1]}/score", data=body,
                                      headers=headers, timeout=300)
        kept = {k: v for k, v in response.headers.items()
                if k.lower() in ("content-type", "x-ms-request-id", "x-ms-run-function-failed")}
        return response.status_code, kept, response.content

    def logs(self, key: str, tail: int | None = None) -> str:
        """The scoring process's output (last `tail` lines)."""
        path = self._log_path(key)
        if not path.exists():
            return ""
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def running(self, key: str) -> bool:
        with self._lock:
            entry = self._procs.get(key)
        return entry is not None and entry[0].poll() is None

    def pid(self, key: str) -> int | None:
        with self._lock:
            entry = self._procs.get(key)
        return entry[0].pid if entry else None

    def stop(self, key: str) -> None:
        """Stop `key`'s process group: SIGTERM, then SIGKILL after a few seconds."""
        entry = self._forget(key)
        if entry is None:
            return
        process = entry[0]
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


def _uv() -> str | None:
    """uv, if installed (on PATH or as the `uv` package): it builds environments ~10x faster."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def _install(venv: Path, wanted: list[str], wheelhouse: Path,
             uv_cache: Path) -> subprocess.CompletedProcess[str]:
    """Create `venv` and install `wanted` into it from `wheelhouse` only (no index)."""
    uv = _uv()
    if uv:
        made = subprocess.run([uv, "venv", "--quiet", "--python", _base_python(), str(venv)],
                              capture_output=True, text=True, env=_clean_env())
        command = [uv, "pip", "install", "--python", str(venv / "bin" / "python"), "--offline",
                   "--no-index", "--find-links", str(wheelhouse), "--cache-dir", str(uv_cache),
                   "--compile-bytecode"]  # pip does; else every start compiles the stack
    else:
        made = subprocess.run([_base_python(), "-m", "venv", str(venv)],
                              capture_output=True, text=True, env=_clean_env())
        command = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index",
                   "--disable-pip-version-check", "--find-links", str(wheelhouse)]
    if made.returncode != 0:
        return made
    return subprocess.run([*command, *wanted], capture_output=True, text=True, env=_clean_env())


def _base_python() -> str:
    # The interpreter behind any venv we run in: scoring venvs must not nest in ours.
    return getattr(sys, "_base_executable", None) or sys.executable


def _clean_env() -> dict[str, str]:
    # Scoring talks only to loopback; a proxy (the stand-in's own) has no business there.
    drop = {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "PYTHONPATH",
            "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def wheelhouse_requirements() -> list[str]:
    """WHEELHOUSE_REQUIREMENTS plus the exact versions MLflow records from this environment."""
    extra = []
    for name in _MLFLOW_RECORDED:
        try:
            extra.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return WHEELHOUSE_REQUIREMENTS + extra


def fill_wheelhouse(wheelhouse: Path, requirements: list[str]) -> None:
    """Download the wheels of `requirements` (and their dependencies) into `wheelhouse`."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    stamp = wheelhouse / ".requirements.json"
    if stamp.exists() and json.loads(stamp.read_text()) == sorted(requirements):
        print(f"wheelhouse {wheelhouse} is up to date")
        return
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                    "--disable-pip-version-check", "--only-binary=:all:", "--dest",
                    str(wheelhouse), *requirements], check=True, env=_clean_env())
    stamp.write_text(json.dumps(sorted(requirements)))
    print(f"wheelhouse {wheelhouse}: {len(list(wheelhouse.glob('*.whl')))} wheels")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stand-in scoring support")
    parser.add_argument("--fill-wheelhouse", type=Path, required=True, metavar="DIR",
                        help="download the scoring environments' wheels into DIR")
    args = parser.parse_args(argv)
    fill_wheelhouse(args.fill_wheelhouse, wheelhouse_requirements())
    return 0


if __name__ == "__main__":
    sys.exit(main())
