"""deploy_model and safe_rollout take the same deployment options: one structure in the runtime
(azml_deployment_options), flat typed KFP inputs in both components."""

import inspect
from typing import Optional

from azml_components import deploy_model, safe_rollout
from azml_components.runtime.deployment_options import azml_deployment_options

OPTIONS = inspect.signature(azml_deployment_options).parameters
KFP_TYPES = {str: "String", int: "Integer", bool: "Boolean"}


def _kfp_name(option: str) -> str:
    # The code folder comes in as an artifact named `code`; the runtime takes its path.
    return "code" if option == "code_path" else option


def _options_of(component) -> dict:
    wanted = {_kfp_name(name) for name in OPTIONS}
    return {name: spec for name, spec in component.component_spec.inputs.items()
            if name in wanted}


def test_both_components_accept_the_same_deployment_options():
    deploy, rollout = _options_of(deploy_model), _options_of(safe_rollout)
    # Same names in the same order, with the same type, default and description.
    assert list(deploy) == list(rollout) == [_kfp_name(name) for name in OPTIONS]
    for name in deploy:
        a, b = deploy[name], rollout[name]
        assert (a.type, a.default, a.optional, a.description) == (
            b.type, b.default, b.optional, b.description), name


def test_component_defaults_are_the_runtime_defaults():
    inputs = _options_of(deploy_model)
    for name, parameter in OPTIONS.items():
        spec = inputs[_kfp_name(name)]
        assert spec.optional, name
        if name == "code_path":
            assert spec.type.startswith("system.Artifact") and spec.default is None
        elif parameter.annotation == Optional[dict]:  # a dict input's {} is the runtime's None
            assert spec.type == "Dict" and spec.default == {} and parameter.default is None
        elif parameter.annotation == Optional[list]:
            assert spec.type == "List" and spec.default == [] and parameter.default is None
        else:
            assert spec.type == KFP_TYPES[parameter.annotation], name
            assert spec.default == parameter.default, name
