"""Prebuilt-image mode: components compiled for image/Dockerfile install nothing when they start.

The image itself cannot be built here (no Docker on this machine); what is checked is that the
Dockerfile holds exactly pins.py's packages, that image-mode commands contain no `pip install`,
and that those components run end to end with kfp.local in this venv, which holds the same pins.
"""

import importlib.metadata
import re
from pathlib import Path

import pytest
import yaml
from kfp import dsl, local
from kfp.components import load_component_from_file

from azml_components import pins
from azml_components._component import program_of
from azml_components.testing.kfp_backend import kfp_backend_rules
from pipelines.diabetes_training import train_diabetes_model
from tests.helpers import ml_client, unique, workspace
from tools.compile_all import compile_all, drift

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "image" / "Dockerfile"
IMAGE = "registry.example.invalid/azml-components:test"


def _dockerfile_requirements() -> list:
    # The requirements of the Dockerfile's `pip install` (continuation lines joined).
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    (install,) = [line for line in text.splitlines() if "pip install" in line]
    words = install.split("pip install", 1)[1].split("&&", 1)[0].split()
    return [w for w in words if not w.startswith("-")]


def test_dockerfile_holds_exactly_the_pins_as_a_non_root_user():
    assert sorted(_dockerfile_requirements()) == sorted(pins.IMAGE_PACKAGES)
    assert re.search(r"^FROM (\S+)$", DOCKERFILE.read_text(), re.M).group(1) == pins.BASE_IMAGE
    (user,) = re.findall(r"^USER (\S+)$", DOCKERFILE.read_text(), re.M)
    assert user.split(":")[0] not in ("0", "root")
    # This venv, where the end-to-end run happens, holds the same versions.
    for requirement in pins.IMAGE_PACKAGES:
        name, _, version = requirement.partition("==")
        assert importlib.metadata.version(name) == version, requirement


@pytest.fixture(scope="module")
def image_components(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compiled-image")
    compile_all(out, image=IMAGE)
    return out / "components"


def test_image_mode_commands_install_nothing(image_components):
    compiled = sorted(image_components.glob("*.yaml"))
    assert [p.stem for p in compiled] == sorted(
        p.stem for p in (ROOT / "compiled" / "components").glob("*.yaml"))
    for path in compiled:
        spec = yaml.safe_load(path.read_text())
        (executor,) = spec["deploymentSpec"]["executors"].values()
        container = executor["container"]
        assert container["image"] == IMAGE, path.name
        # What follows the launcher is the component's Python program (in one or more parts).
        shell = container["command"][:container["command"].index("-ec") + 2]
        assert "pip install" not in " ".join(container["command"]), path.name
        assert not any(re.search(r"\bpip\b", part) for part in shell), path.name
        assert "exec python3 -m kfp.dsl.executor_main" in " ".join(shell), path.name
        # The same Python as the default component: only the start-up differs.
        default = yaml.safe_load((ROOT / "compiled" / "components" / path.name).read_text())
        (default_executor,) = default["deploymentSpec"]["executors"].values()
        assert program_of(container["command"]) == program_of(
            default_executor["container"]["command"])
        assert "pip install" in " ".join(default_executor["container"]["command"])
    # The default components are untouched: compiled/ still matches a fresh compilation.
    assert drift(ROOT / "compiled") == []


@pytest.mark.timeout(900)
# kfp.local warns that a non-Python image may lack the packages; here the venv holds them (the
# first test checks it), which is the point.
@pytest.mark.filterwarnings("ignore:You may be attemping to run a task:RuntimeWarning")
def test_image_mode_components_run_end_to_end(standin, image_components, tmp_path):
    register = load_component_from_file(str(image_components / "register_model.yaml"))
    deploy = load_component_from_file(str(image_components / "deploy_model.yaml"))
    invoke = load_component_from_file(str(image_components / "invoke_endpoint.yaml"))
    endpoint, model_name = unique("image-mode"), unique("image-model")
    ws = workspace()

    @dsl.pipeline
    def image_mode(resource_group: str, workspace_name: str):
        train = train_diabetes_model(
            scoring_requirements=pins.EXAMPLE_SCORING_PACKAGES, model_format="custom")
        registered = register(model=train.outputs["model"], model_name=model_name,
                              resource_group=resource_group, workspace_name=workspace_name)
        deployed = deploy(registered_model=registered.outputs["registered_model"],
                          code=train.outputs["code"], conda_file="conda.yaml",
                          endpoint_name=endpoint, deployment_name="blue",
                          resource_group=resource_group, workspace_name=workspace_name)
        invoke(endpoint=deployed.outputs["endpoint"], payload_file=train.outputs["smoke_request"],
               resource_group=resource_group, workspace_name=workspace_name)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    with kfp_backend_rules() as rules:
        image_mode(resource_group=ws["resource_group"], workspace_name=ws["workspace_name"])
    # Every task ran (the invoke task fails on a wrong answer: the smoke request's metadata
    # holds the predictions the model gave in training).
    assert rules.checked == ["train-diabetes-model", "register-model", "deploy-model",
                             "invoke-endpoint"]
    client = ml_client()
    assert [m.version for m in client.models.list(name=model_name)] == ["1"]
    assert client.online_endpoints.get(endpoint).traffic == {"blue": 100}
