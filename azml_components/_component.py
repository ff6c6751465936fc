"""The decorator every Azure-facing component uses, so base image, pins and runtime are set once."""

import functools

from kfp import dsl

from azml_components import pins, runtime

#: ``@azure_component`` = ``@dsl.component`` with our base image, pinned Azure packages and the
#: shared runtime functions copied into the component's source (deterministic compiled YAML).
azure_component = functools.partial(
    dsl.component,
    base_image=pins.BASE_IMAGE,
    packages_to_install=pins.AZURE_PACKAGES,
    additional_funcs=runtime.FUNCTIONS,
)
