"""Conda environment files read the way Azure ML's image build reads them, for a pip install.

Azure ML builds a deployment's image with `conda env create -f <conda file>`: conda installs the
`dependencies` (from the file's channels), then pip installs the `pip:` section into that
environment (the step azureml-assets' Dockerfiles split into `conda create` + `pip install`, e.g.
assets/training/general/environments/sklearn-1.5/context/Dockerfile). The stand-in has no conda:
it installs the conda section from the package index with pip semantics, then the `pip:` section
unchanged, as a second step, like conda's own pip step.

Conda match specs (https://docs.conda.io/projects/conda/en/latest/user-guide/concepts/
pkg-specs.html, pkg-search.html): `numpy=1.11` is fuzzy (1.11, 1.11.0, 1.11.1, ...), so it
becomes `numpy==1.11.*`; `numpy==1.11` and `numpy 1.11` are exact; ranges (`>=1.8,<2`) are kept;
`channel::name` and build strings (`numpy=1.11=py311h...`) name conda artefacts and are dropped
with a note; alternatives (`1.11|1.12`) have no pip form and are an error.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

import yaml

# Conda package names whose PyPI distribution has another name (conda-forge feedstocks).
RENAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "tensorflow-base": "tensorflow",
}
# Conda packages that are not Python distributions (system libraries, CUDA, BLAS, metapackages):
# the stand-in runs on the machine's own libraries and CPU, so they are skipped with a note.
NOT_PYTHON = {
    "blas", "cpuonly", "cudatoolkit", "cuda-toolkit", "cuda-version", "cudnn", "libblas",
    "libgcc-ng", "libstdcxx-ng", "libgfortran-ng", "mkl", "mkl-service", "nccl", "openblas",
    "openmpi", "_libgcc_mutex", "_openmp_mutex", "ca-certificates", "openssl", "tk", "xz", "zlib",
}
# The interpreter and the installer: the stand-in's own Python runs every scoring environment.
INTERPRETER = {"python", "pip"}

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


class CondaError(ValueError):
    """A conda file the stand-in cannot turn into an install (the message names the entry)."""


@dataclass
class CondaEnvironment:
    """A conda file as two install steps plus what the deployment log should say about it."""

    python: str | None = None
    conda: list[str] = field(default_factory=list)  # conda section, as pip requirements
    pip: list[str] = field(default_factory=list)  # the pip: section, line for line
    notes: list[str] = field(default_factory=list)


def running_python() -> str:
    """The Python the stand-in (and so every scoring environment) runs, as X.Y.Z."""
    return ".".join(str(part) for part in sys.version_info[:3])


def python_note(asked: str | None) -> str | None:
    """A note when the conda file asks for another Python than the one scoring runs on."""
    if not asked:
        return None
    wanted = asked.strip().lstrip("=").rstrip(".*")
    if re.fullmatch(r"\d+(\.\d+)*", wanted):
        if running_python().split(".")[: wanted.count(".") + 1] == wanted.split("."):
            return None
    return (f"the environment asks for Python {asked}; the stand-in has no conda and builds "
            f"every scoring environment on its own Python {running_python()}")


def to_pip(spec: str) -> tuple[str | None, str | None]:
    """(pip requirement, note) for one conda match spec; requirement None when skipped."""
    text = spec.strip()
    note = None
    if "::" in text:
        text = text.split("::", 1)[1]  # the channel: the index decides where packages come from
    bracket = re.search(r"\[(.*)\]\s*$", text)
    keyed = {}
    if bracket:
        keyed = dict(re.findall(r"(\w+)\s*=\s*['\"]?([^'\",]+)['\"]?", bracket.group(1)))
        text = text[: bracket.start()]
    match = _SPEC.match(text)
    if not match:
        raise CondaError(f"conda dependency {spec!r} is not a conda match spec")
    name, rest = match.group("name").lower(), match.group("rest").strip()
    if name in INTERPRETER:
        return None, None
    if name in NOT_PYTHON:
        return None, f"conda package {spec!r} is not a Python package; not installed"
    pip_name = RENAMES.get(name, name)
    if pip_name != name:
        note = f"conda package {name!r} is {pip_name!r} on the package index"
    version = keyed.get("version", "")
    if rest.startswith("="):
        if rest.startswith("=="):
            version = rest
        else:  # name=version[=build]: conda's fuzzy "starts with"
            parts = rest[1:].split("=")
            if len(parts) > 1 and parts[1]:
                note = f"conda build string of {spec!r} ignored"
            version = "==" + parts[0] + ("" if parts[0].endswith("*") else ".*")
    elif rest and rest[0] in "<>!~":
        version = rest
    elif rest:  # "name 1.2.3 [build]": exact, or a glob such as 1.2.*
        parts = rest.split()
        if len(parts) > 1:
            note = f"conda build string of {spec!r} ignored"
        version = "==" + parts[0] if parts[0][:1].isdigit() else parts[0]
    version = version.replace(" ", "")
    if "|" in version:
        raise CondaError(f"conda dependency {spec!r}: alternatives ('|') have no pip form")
    if version and version[:1].isdigit():
        version = "==" + version
    return pip_name + version, note


def parse(conda_file: str | dict | None) -> CondaEnvironment:
    """A conda environment file (YAML text or parsed) as a CondaEnvironment."""
    environment = CondaEnvironment()
    if not conda_file:
        return environment
    try:
        parsed = yaml.safe_load(conda_file) if isinstance(conda_file, str) else conda_file
    except yaml.YAMLError as error:
        raise CondaError(f"the conda file is not valid YAML ({error})") from error
    if not isinstance(parsed, dict) or not isinstance(parsed.get("dependencies") or [], list):
        raise CondaError("the conda file needs a 'dependencies' list")
    for dependency in parsed.get("dependencies") or []:
        if isinstance(dependency, dict):
            for key, value in dependency.items():
                if key == "pip":
                    environment.pip += [str(line).strip() for line in value or []]
                else:
                    environment.notes.append(f"conda file entry {key!r} ignored")
            continue
        text = str(dependency).strip()
        if re.match(r"^python(?![A-Za-z0-9_.-])", text, flags=re.I):
            environment.python = text[len("python"):].strip().lstrip("=").strip() or None
            continue
        requirement, note = to_pip(text)
        if requirement:
            environment.conda.append(requirement)
        if note:
            environment.notes.append(note)
    note = python_note(environment.python)
    if note:
        environment.notes.insert(0, note)
    return environment
