"""A shared input is declared once (azml_components/settings.py) and everything follows from it.

A made-up online deployment setting is added to the declaration in a copy of the package; the
generator (tools/generate_settings.py, what `nox -s compile` runs) then gives it to both
components that deploy online (signature, default and the KFP UI's description), to the call
that hands their settings to the runtime, to azml_deployment_options' parameters and to the
AzmlDeploymentOptions record, with no other file edited by hand.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MADE_UP = '''    Setting("made_up_timeout_ms", "int", "4321",
            "A made-up setting: milliseconds a made-up thing may take."),
]

# The smoke test'''

PROBE = r'''
import inspect, json
from azml_components import deploy_model, safe_rollout
from azml_components.runtime.deployment_options import azml_deployment_options
from azml_components.runtime.records import AzmlDeploymentOptions

report = {}
for component in (deploy_model, safe_rollout):
    spec = component.component_spec.inputs["made_up_timeout_ms"]
    report[component.name] = [spec.type, spec.default, spec.description]
report["runtime"] = str(inspect.signature(azml_deployment_options).parameters["made_up_timeout_ms"])
report["record"] = AzmlDeploymentOptions._field_defaults["made_up_timeout_ms"]
report["checked"] = azml_deployment_options(made_up_timeout_ms=99).made_up_timeout_ms
print(json.dumps(report))
'''


def test_a_new_setting_reaches_every_place_from_its_declaration(tmp_path):
    for folder in ("azml_components", "tools"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    settings = tmp_path / "azml_components" / "settings.py"
    text = settings.read_text()
    end_of_online = "]\n\n# The smoke test"
    assert text.count(end_of_online) == 1
    settings.write_text(text.replace(end_of_online, MADE_UP))
    before = {p: p.read_text() for p in (tmp_path / "azml_components").rglob("*.py")}
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "tools.generate_settings"], cwd=tmp_path, env=env,
                   check=True, capture_output=True)
    changed = sorted(str(p.relative_to(tmp_path)) for p, old in before.items()
                     if p.read_text() != old)
    assert changed == [
        "azml_components/deploy_model.py",
        "azml_components/runtime/deployment_options.py",
        "azml_components/runtime/records.py",
        "azml_components/safe_rollout.py",
    ]
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    described = "A made-up setting: milliseconds a made-up thing may take."
    for name in ("deploy-model", "safe-rollout"):
        assert report[name] == ["Integer", 4321, described], report
    assert report["runtime"] == "made_up_timeout_ms: int = 4321"
    assert report["record"] == 4321
    assert report["checked"] == 99
