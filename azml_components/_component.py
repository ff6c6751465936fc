"""The decorator every Azure-facing component uses, so base image, pins and runtime are set once."""

from kfp import dsl

from azml_components import pins, runtime


def _exec_into_python(component):
    # kfp starts the component as `sh -c "pip install ... && "$0" "$@"" sh -ec "... python3 ..."`;
    # neither shell passes SIGTERM on, so a cancelled run could not put traffic back (see
    # kubeflow/pipelines#7903). `exec` makes Python take over each shell's process instead.
    container = component.component_spec.implementation.container
    replacements = {
        '&& "$0" "$@"': '&& exec "$0" "$@"',
        "_KFP_RUNTIME=true python3 -m": "_KFP_RUNTIME=true exec python3 -m",
    }
    command = []
    for part in container.command:
        for old, new in replacements.items():
            part = part.replace(old, new)
        command.append(part)
    if command == list(container.command):
        raise RuntimeError("kfp's component command changed; revisit _exec_into_python")
    container.command = command
    return component


def azure_component(func):
    """``@dsl.component`` with our base image, pinned Azure packages and the shared runtime.

    The runtime functions are copied into the component's source (``additional_funcs``), which
    keeps the compiled YAML self-contained and byte-for-byte deterministic.
    """
    component = dsl.component(
        func,
        base_image=pins.BASE_IMAGE,
        packages_to_install=pins.AZURE_PACKAGES,
        additional_funcs=runtime.FUNCTIONS,
    )
    return _exec_into_python(component)
