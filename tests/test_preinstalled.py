"""azml_components/testing/preinstalled.py: the demo's tasks as they start in the prebuilt image.

Cutting kfp's install step must leave exactly the command ``for_image`` compiles for the prebuilt
image (same launcher, same program), and must refuse when a pin the step would have installed is
not installed here. The end-to-end run is tests/pipelines/test_example_pipeline.py's python row.
"""

import importlib.metadata

import pytest
from google.protobuf import json_format

from azml_components import components, pins
from azml_components._component import for_image, packages_for, runtime_functions_for
from azml_components.testing.preinstalled import (
    NotInstalled,
    cut_install_steps,
    install_requirements,
    preinstalled,
    unsatisfied,
    without_install_step,
)
from pipelines.train_register_deploy import train_register_deploy

KFP_LINE = ["kfp==" + importlib.metadata.version("kfp"),
            'typing-extensions>=3.7.4,<5; python_version<"3.9"']


@pytest.mark.parametrize("name", sorted(components()))
def test_cutting_the_install_step_leaves_the_prebuilt_image_command(name):
    component = components()[name]
    command = component.component_spec.implementation.container.command
    cut, requirements = without_install_step(command)
    image = for_image(component, "registry.example.invalid/azml:1")
    assert cut == image.component_spec.implementation.container.command
    assert requirements == [*packages_for(runtime_functions_for(component.python_func)),
                            *KFP_LINE]
    # A command without the step is left as it is.
    assert without_install_step(cut) == (cut, [])


def _executors(pipeline) -> dict:
    spec = pipeline.component_spec.implementation.graph
    return json_format.MessageToDict(spec.deployment_spec)["executors"]


def test_the_pipeline_spec_loses_every_install_step_and_keeps_the_rest():
    before = {name: e["container"]["command"]
              for name, e in _executors(train_register_deploy).items()}
    cut = _executors(preinstalled(train_register_deploy))
    assert sorted(cut) == sorted(before) and len(before) == 6
    for name, executor in cut.items():
        assert executor["container"]["command"] == before[name][3:], name
        assert "pip install" not in " ".join(executor["container"]["command"][:2])
    # The pipeline itself is left as it is (a copy was cut).
    assert _executors(train_register_deploy)["exec-register-model"]["container"]["command"] == (
        before["exec-register-model"])
    train = install_requirements(before["exec-train-diabetes-model"][2])
    assert train == [*pins.EXAMPLE_PACKAGES, *KFP_LINE]


def test_a_pin_that_is_not_installed_here_is_refused_by_name():
    installed = importlib.metadata.version("azure-ai-ml")
    assert unsatisfied(f"azure-ai-ml=={installed}") is None
    assert unsatisfied('typing-extensions>=3.7.4,<5; python_version<"3.9"') is None  # marker
    assert unsatisfied("azure-ai-ml==0.0.1") == (
        f"'azure-ai-ml==0.0.1': azure-ai-ml {installed} is installed")
    assert unsatisfied("no-such-package-azml==1.0") == (
        "'no-such-package-azml==1.0': no-such-package-azml is not installed")
    executors = _executors(train_register_deploy)
    for executor in executors.values():
        command = executor["container"]["command"]
        command[2] = command[2].replace(f"'azure-ai-ml=={installed}'", "'azure-ai-ml==0.0.1'")
    with pytest.raises(NotInstalled) as refused:
        cut_install_steps(executors)
    message = str(refused.value)
    assert "exec-register-model: 'azure-ai-ml==0.0.1': azure-ai-ml" in message
    assert "exec-train-diabetes-model" not in message  # its pins are installed
