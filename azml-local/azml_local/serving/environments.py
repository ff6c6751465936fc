"""Scoring environments: what a deployment's environment installs, and a cache of built venvs.

What Azure ML installs (cited where each is decided):
- Custom deployments: the environment's conda file, as the image build installs it (conda.py).
  Azure adds nothing: an image without azureml-inference-server-http fails at container start
  with "A required package azureml-inference-server-http is missing" (the inference images'
  runit/gunicorn/run in Azure/azureml-assets; reported in Azure/azureml-examples#2760).
- MLflow no-code deployments: the model's conda environment (the python_function flavour's
  `env`, either `env: conda.yaml` or `env: {conda: conda.yaml, virtualenv: python_env.yaml}`),
  created as its own environment, then azureml-inference-server-http only if that environment
  lacks it ("Guidelines for deploying MLflow models": Azure ML "reads the Conda dependencies that
  are specified in the MLflow model and adds any packages that are required to run the inferencing
  server"; the same runit script: `conda env create -n userenv -f <model>/conda.yaml`, then
  `pip install azureml-inference-server-http` when `pip show` finds none). A model without a
  conda file falls back to its requirements.txt.

Each distinct set (the steps, and the Python they run on) is built once into a virtual
environment under the cache directory and reused across runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from azml_local.serving import conda, installer

SERVER_NAME = "azureml-inference-server-http"
# What the MLflow inference image carries (mlflow-py312-inference pins the index's newest at
# publication); added to a no-code MLflow environment that lacks a server.
SERVER = "azureml-inference-server-http==1.5.1"
# Microsoft's data collector SDK (PyPI azureml-ai-monitoring), for MLflow no-code collection.
MONITORING_NAME = "azureml-ai-monitoring"
MONITORING = "azureml-ai-monitoring==1.0.0"


class ProvisionError(Exception):
    """A deployment could not start; `logs` is what a user would see in get_logs.

    `code` is the error code the deployment operation fails with; `detail` what Azure's message
    adds after "User container has crashed or terminated" (a probe that gave up).
    """

    def __init__(self, message: str, logs: str, code: str = "ResourceNotReady",
                 detail: str = "") -> None:
        super().__init__(message)
        self.logs, self.code, self.detail = logs, code, detail


@dataclass
class ScoringEnvironment:
    """The install steps of one scoring environment and the notes for the deployment log."""

    conda: list[str] = field(default_factory=list)  # step 1: the conda section
    pip: list[str] = field(default_factory=list)  # step 2: the pip section, as written
    server_if_missing: str | None = None  # step 3 (MLflow no-code): the server, if absent
    python: str | None = None  # what the file asks for (the venv runs the stand-in's Python)
    notes: list[str] = field(default_factory=list)

    def key(self) -> str:
        """Digest of what the venv contains: the steps and the interpreter's X.Y."""
        content = {"python": list(sys.version_info[:2]), "conda": self.conda, "pip": self.pip,
                   "server_if_missing": self.server_if_missing}
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:16]


def requirement_name(line: str) -> str:
    """The distribution name a requirement line installs ('' for options and URLs)."""
    line = line.strip()
    if not line or line.startswith(("-", "#")) or "://" in line.split(" @ ")[0]:
        return ""
    return re.split(r"[<>=!~;\[ @]", line, maxsplit=1)[0].lower().replace("_", "-")


def from_conda_file(conda_file: str | dict | None) -> ScoringEnvironment:
    """A custom deployment's environment from its conda file."""
    try:
        parsed = conda.parse(conda_file)
    except conda.CondaError as error:
        raise ProvisionError("conda file", f"Image build failed: {error}",
                             "ImageBuildFailure") from error
    return ScoringEnvironment(conda=parsed.conda, pip=parsed.pip, python=parsed.python,
                              notes=parsed.notes)


def find_mlmodel(model_dir: Path) -> Path:
    """The MLmodel file nearest the top of the model."""
    found = sorted(Path(model_dir).rglob("MLmodel"), key=lambda p: (len(p.parts), str(p)))
    if not found:
        raise ProvisionError("no MLmodel", f"No MLmodel file under the model ({model_dir}).")
    return found[0]


def for_mlflow_model(model_dir: Path, collect: bool = False) -> ScoringEnvironment:
    """An MLflow model's no-code environment (see the module docstring). `collect`: the
    deployment collects model_inputs/model_outputs, which Azure's MLflow scoring script does
    with azureml-ai-monitoring ("Collect production data ...", learn.microsoft.com: Azure ML
    "auto-instruments your scoring script with custom logging code"; Azure's MLflow inference
    image carries the package for its mlflow_score_script.py, azureml-assets mlflow-py312-
    inference), so the package is added when the model's environment lacks it.
    """
    mlmodel = find_mlmodel(model_dir)
    try:
        flavors = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors") or {}
    except yaml.YAMLError as error:
        raise ProvisionError("bad MLmodel", f"The MLmodel file is not valid YAML: {error}",
                             "ImageBuildFailure") from error
    env = (flavors.get("python_function") or {}).get("env")
    conda_name = env.get("conda") if isinstance(env, dict) else env
    conda_path = mlmodel.parent / conda_name if isinstance(conda_name, str) else None
    if conda_path is not None and conda_path.is_file():
        environment = from_conda_file(conda_path.read_text())
    else:
        listed = mlmodel.parent / "requirements.txt"
        lines = listed.read_text().splitlines() if listed.is_file() else []
        environment = ScoringEnvironment(pip=[ln.strip() for ln in lines if ln.strip()])
        environment.notes.append("the MLflow model has no conda environment file; its "
                                 "requirements.txt is installed instead")
    environment.server_if_missing = SERVER
    listed = {requirement_name(line) for line in environment.conda + environment.pip}
    if collect and MONITORING_NAME not in listed:
        environment.pip.append(MONITORING)
        environment.notes.append(f"data collection: {MONITORING} added for the MLflow "
                                 "scoring script's model_inputs/model_outputs collectors")
    return environment


def has_server(venv: Path) -> bool:
    """Whether azureml-inference-server-http is installed in `venv` (pip show's question)."""
    return any(venv.glob("lib/python*/site-packages/azureml_inference_server_http-*.dist-info"))


class EnvironmentCache:
    """Virtual environments per distinct ScoringEnvironment, built on first use."""

    def __init__(self, cache_dir: Path, wheelhouse: Path | None) -> None:
        self.cache_dir = Path(cache_dir)
        self.wheelhouse = Path(wheelhouse) if wheelhouse else None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.builds = 0  # environments built by this cache object (tests check reuse with it)
        self._settings: dict[str, list[str]] = {}

    def get(self, environment: ScoringEnvironment) -> Path:
        """The venv for `environment`; ProvisionError (ImageBuildFailure) if it cannot build."""
        digest = environment.key()
        target = self.cache_dir / digest
        if (target / ".complete").exists():
            return target
        with open(self.cache_dir / f"{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build per environment, across processes
            if (target / ".complete").exists():
                return target
            self._build(target, environment)
        return target

    def _build(self, target: Path, environment: ScoringEnvironment) -> None:
        if self.wheelhouse is not None and not self.wheelhouse.is_dir():
            raise ProvisionError("no wheelhouse", f"Image build failed: the offline wheelhouse "
                                 f"{self.wheelhouse} ($AZML_LOCAL_WHEELHOUSE) does not exist.",
                                 "ImageBuildFailure")
        # Built beside the target and renamed into place, so a half-built environment is never
        # seen; we only ever run `bin/python -m ...`, which does not depend on the venv's path.
        staging = target.with_name(f"{target.name}.building-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        started = time.monotonic()
        uv = installer.find_uv()
        # Read once per build: uv is told pip's index settings (installer.py).
        self._settings = installer.pip_settings() if uv and self.wheelhouse is None else {}
        try:
            made = installer.create_venv(staging, uv, online=self.wheelhouse is None)
            if made.returncode != 0:
                self._fail("creating the virtual environment", [], made)
            steps = [("conda section", environment.conda), ("pip section", environment.pip)]
            for what, lines in steps:
                if lines:
                    self._install(staging, what, lines, uv)
            if environment.server_if_missing and not has_server(staging):
                self._install(staging, "inference server", [environment.server_if_missing], uv)
        except ProvisionError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        seconds = time.monotonic() - started
        record = {**asdict(environment), "installer": "uv" if uv else "pip",
                  "source": str(self.wheelhouse) if self.wheelhouse else "package index",
                  "seconds": round(seconds, 1)}
        (staging / "environment.json").write_text(json.dumps(record, indent=1) + "\n")
        (staging / ".complete").write_text(f"built in {seconds:.1f} s\n")
        shutil.rmtree(target, ignore_errors=True)  # leftovers of an interrupted old-style build
        os.rename(staging, target)
        self.builds += 1

    def _install(self, venv: Path, what: str, lines: list[str], uv: str | None) -> None:
        listed = venv / f"requirements-{what.split()[0]}.txt"
        listed.write_text("\n".join(lines) + "\n")
        command, env = installer.install_command(
            venv, listed, uv=uv, wheelhouse=self.wheelhouse,
            settings=self._settings)
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            self._fail(f"installing the environment's {what}", lines, result)

    def _fail(self, step: str, lines: list[str], result) -> None:
        source = (f"the offline wheelhouse {self.wheelhouse}" if self.wheelhouse
                  else "the package index")
        raise ProvisionError(
            "environment build failed",
            f"Image build failed while {step} from {source}:\n  {' '.join(lines)}\n"
            f"{(result.stdout or '')[-3000:]}{(result.stderr or '')[-6000:]}",
            "ImageBuildFailure",
        )
