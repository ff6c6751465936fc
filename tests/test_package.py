"""Packaging rules: import isolation and one source of truth for pins."""

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

from azml_components import pins

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_package_does_not_import_the_azure_sdk():
    code = (
        "import sys, azml_components\n"
        "from azml_components import register_model, deploy_model, use_azure_credentials\n"
        "prefixes = ('azure.ai.ml', 'azure.identity')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(prefixes))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pyproject_pins_equal_component_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert sorted(extras["azure"]) == sorted(pins.AZURE_PACKAGES)
    assert sorted(extras["monitor"]) == sorted(pins.MONITOR_PACKAGES)
    assert sorted(extras["example"]) == sorted(pins.EXAMPLE_PACKAGES)
    assert sorted(extras["drift"]) == sorted(pins.DRIFT_PACKAGES)
    assert sorted(extras["tracking"]) == sorted(pins.MLFLOW_TRACKING_PACKAGES)
    assert sorted(extras["training-job"]) == sorted(pins.TRAINING_JOB_PACKAGES)


def test_tracking_server_runs_the_mlflow_of_the_tracking_pins():
    # One MLflow version for local mode's tracking server and the jobs that log to it.
    from azml_local.tracking.server import MLFLOW_SERVER

    skinny = next(p for p in pins.MLFLOW_TRACKING_PACKAGES if p.startswith("mlflow-skinny=="))
    assert MLFLOW_SERVER.split("==")[1] == skinny.split("==")[1]


def test_every_pin_is_exact():
    for requirement in (pins.AZURE_PACKAGES + pins.MONITOR_PACKAGES + pins.DRIFT_PACKAGES
                        + pins.EXAMPLE_PACKAGES + pins.MLFLOW_TRACKING_PACKAGES
                        + pins.TRAINING_JOB_PACKAGES):
        name, _, version = requirement.partition("==")
        assert name and version and version[0].isdigit(), requirement


# The two distributions of this repository: azml-components (the KFP components, this
# directory's pyproject.toml) and azml-local (the local Azure ML, azml-local/pyproject.toml).
# Each ships its own package and nothing else of the checkout.
LOCAL = ROOT / "azml-local"
# What a fresh checkout holds, not what this one has built or cached.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".nox", ".venv", ".standin", "__pycache__", "*.egg-info", "build", "dist",
    "node_modules", ".pytest_cache", ".ruff_cache", "mutants", ".mutation", ".wheelhouse",
)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """File lists of both wheels, built offline from a copy of the sources.

    A copy, because setuptools writes build/ and *.egg-info into the tree it builds.
    """
    tmp = tmp_path_factory.mktemp("wheels")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    out = tmp / "out"
    for project in (source, source / LOCAL.name):
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--quiet", "-w", str(out), str(project)],
            capture_output=True, text=True, cwd=tmp, timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    built = {}
    for wheel in sorted(out.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            built[wheel.name.split("-")[0]] = archive.namelist()
    assert sorted(built) == ["azml_components", "azml_local"], sorted(out.iterdir())
    return built


def test_the_components_wheel_holds_only_azml_components(wheels: dict) -> None:
    files = wheels["azml_components"]
    code = [f for f in files if ".dist-info/" not in f]
    assert "azml_components/__init__.py" in code
    assert "azml_components/runtime/__init__.py" in code
    assert "azml_components/testing/__init__.py" in code
    strays = [f for f in code if not f.startswith("azml_components/")]
    assert strays == []  # no azml_local/, tools/, tests/, pipelines/, bench/, compiled/
    for folder in ("azml_local/", "tools/", "tests/", "pipelines/", "bench/", "compiled/"):
        assert not [f for f in files if f.startswith(folder) or f"/{folder}" in f], folder


def test_the_local_wheel_holds_only_azml_local(wheels: dict) -> None:
    files = wheels["azml_local"]
    code = [f for f in files if ".dist-info/" not in f]
    assert [f for f in code if not f.startswith("azml_local/")] == []
    assert not [f for f in files if "azml_components" in f]
    for needed in (
        "azml_local/__init__.py",
        "azml_local/__main__.py",
        "azml_local/app.py",
        "azml_local/infra/web.py",
        "azml_local/resources/assets.py",
        "azml_local/serving/manager.py",
        # Data the emulator reads at run time (package-data in azml-local/pyproject.toml).
        "azml_local/infra/azurite/package.json",
        "azml_local/infra/azurite/package-lock.json",
    ):
        assert needed in code, needed
    # The scripts the scoring processes run: every one in the source tree is shipped.
    support = LOCAL / "azml_local" / "serving" / "support"
    scripts = sorted(f"azml_local/serving/support/{p.name}" for p in support.glob("*.py"))
    assert scripts and set(scripts) <= set(code)
    # Every module of the source tree is in the wheel (nothing left behind by packages.find).
    modules = sorted(
        p.relative_to(LOCAL).as_posix() for p in (LOCAL / "azml_local").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert set(modules) <= set(code)


def test_the_local_wheel_declares_its_command_and_no_component_dependencies() -> None:
    project = tomllib.loads((LOCAL / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"azml-local": "azml_local.__main__:main"}
    names = [
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        for requirement in project["dependencies"]
    ]
    assert not {"kfp", "kfp-kubernetes", "azml-components", "azure-ai-ml"} & set(names)


def test_importing_every_azml_local_module_imports_no_kfp_components_or_azure_ml(
    tmp_path: Path,
) -> None:
    # Every module under azml_local, imported in a fresh interpreter that starts nothing: the
    # emulator never needs kfp, azml_components or the SDKs its clients bring.
    code = (
        "import importlib, json, pkgutil, sys, threading\n"
        "import azml_local\n"
        "def refuse(name):\n"
        "    raise ImportError(f'cannot import {name}')\n"
        "names = [m.name for m in pkgutil.walk_packages(azml_local.__path__, 'azml_local.',\n"
        "                                                onerror=refuse)]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "prefixes = ('kfp', 'azml_components', 'azure.ai.ml', 'azure.identity')\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if any(m == p or m.startswith(p + '.') for p in prefixes))\n"
        "print(json.dumps({'modules': names, 'loaded': loaded,\n"
        "                  'threads': threading.active_count()}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["loaded"] == []
    assert report["threads"] == 1  # importing started nothing
    assert {
        "azml_local.__main__", "azml_local.app", "azml_local.fixture",
        "azml_local.infra.web", "azml_local.serving.manager",
        "azml_local.resources.online_endpoints", "azml_local.resources.batch_jobs",
    } <= set(report["modules"])


def test_python_m_azml_local_help(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "azml_local", "--help"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("usage: python -m azml_local")
    for option in ("--state-dir", "--port", "--install-only"):
        assert option in result.stdout
