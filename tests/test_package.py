"""Packaging rules: import isolation and one source of truth for pins."""

import subprocess
import sys
from pathlib import Path

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
    assert sorted(extras["example"]) == sorted(pins.EXAMPLE_PACKAGES)


def test_every_pin_is_exact():
    for requirement in pins.AZURE_PACKAGES + pins.EXAMPLE_PACKAGES:
        name, _, version = requirement.partition("==")
        assert name and version and version[0].isdigit(), requirement
