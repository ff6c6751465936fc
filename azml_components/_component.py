"""The decorator every Azure-facing component uses, so base image, pins and runtime are set once."""

import ast
import functools
import inspect
import textwrap

from kfp import dsl

from azml_components import pins, runtime


@functools.cache
def _names_used(function) -> frozenset:
    # Every name the function's source reads (calls, or functions passed as values).
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


def runtime_functions_for(func) -> list:
    """Return the runtime functions ``func`` reaches, directly or through each other.

    Worked out from the source (the call graph, by name), so a component embeds exactly what it
    runs; listed in the runtime's own order (``runtime.functions()``), so the compiled source is
    deterministic.
    """
    available = runtime.functions()
    reached = set()
    pending = [func]
    while pending:
        for name in _names_used(pending.pop()) & available.keys():
            if name not in reached:
                reached.add(name)
                pending.append(available[name])
    return [function for name, function in available.items() if name in reached]


def _with_records(component, records: list):
    # kfp's additional_funcs keeps only `def` blocks (it drops every line before the first
    # `def`, kfp.dsl.component_factory._get_function_source_definition), so the typed records a
    # component reaches go into its source here, after kfp's imports (`from typing import *`
    # brings NamedTuple and Optional) and before the functions that use them.
    if not records:
        return component
    container = component.component_spec.implementation.container
    *head, source = container.command
    marker = "from typing import *\n"
    if marker not in source:
        raise RuntimeError("kfp's component source changed; revisit _with_records")
    classes = "".join("\n" + inspect.getsource(record) + "\n" for record in records)
    container.command = [*head, source.replace(marker, marker + classes, 1)]
    return component


# Appended to every component's program. The Azure SDK leaves about 170,000 objects; the
# interpreter's last garbage collections at exit take half a second of every task (measured:
# `import azure.ai.ml` then exit, 1.55 s; with gc.freeze() first, 1.09 s). Frozen objects are
# left out of those collections; the program has written its outputs by then (the executor
# writes them before returning), and atexit's other handlers (logging's flush) still run.
_FREEZE_AT_EXIT = (
    "\n\n# Skip the final garbage collections of the SDK's objects at exit (azml-components).\n"
    "import atexit as _azml_atexit\nimport gc as _azml_gc\n\n"
    "_azml_atexit.register(_azml_gc.freeze)\n"
)


def _freeze_at_exit(component):
    container = component.component_spec.implementation.container
    *head, source = container.command
    container.command = [*head, source.rstrip("\n") + _FREEZE_AT_EXIT]
    return component


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


# Linux refuses any single argument or environment string longer than MAX_ARG_STRLEN, 32 pages
# (131072 bytes; include/uapi/linux/binfmts.h) with E2BIG, "Argument list too long", before the
# container's shell starts. kfp passes the whole program as one argument ($0 of its launcher), so
# a program over the limit never runs, on a cluster or in kfp.local. Larger programs are passed
# in parts, split between lines, each well under the limit.
PROGRAM_PART_BYTES = 96 * 1024
_LAUNCHER_WRITE = 'printf "%s" "$0" > "$program_path/ephemeral_component.py"\n'


def program_parts(source: str, limit: int = PROGRAM_PART_BYTES) -> list:
    """Split a component's program into parts of at most ``limit`` bytes.

    Parts end between top-level statements, so each part is Python on its own: kfp's
    ``load_component_from_file`` parses every command part that imports kfp.
    """
    import ast

    lines = source.splitlines(keepends=True)
    starts = sorted({min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                     - 1 for node in ast.parse(source).body} | {0})
    ends = [*starts[1:], len(lines)]
    blocks = ["".join(lines[a:b]) for a, b in zip(starts, ends, strict=True)]
    parts, current = [], ""
    for block in blocks:
        if current and len((current + block).encode()) > limit:
            parts.append(current)
            current = ""
        current += block
    return [*parts, current]


def program_of(command: list) -> str:
    """Return the component's Python program from its container command (one or more parts)."""
    index = next(i for i, part in enumerate(command) if _LAUNCHER_WRITE.strip() in part)
    return "".join(command[index + 1:])


def _program_in_parts(component):
    # The launcher writes parts $0, $1, ... to the program file, then drops them from the
    # positional parameters so "$@" is the executor's arguments again.
    container = component.component_spec.implementation.container
    *head, launcher, source = container.command
    parts = program_parts(source)
    if len(parts) == 1:
        return component
    if _LAUNCHER_WRITE not in launcher:
        raise RuntimeError("kfp's component launcher changed; revisit _program_in_parts")
    writes = _LAUNCHER_WRITE + "".join(
        f'printf "%s" "${n}" >> "$program_path/ephemeral_component.py"\n'
        for n in range(1, len(parts))
    ) + f"shift {len(parts) - 1}\n"
    container.command = [*head, launcher.replace(_LAUNCHER_WRITE, writes, 1), *parts]
    return component


def packages_for(reached: list) -> list:
    """Return the packages a component installs.

    The Azure SDKs, Azure Monitor's when the component reaches the autoscale runtime
    (runtime/autoscale.py), and numpy/scipy when it reaches the drift metrics
    (runtime/drift_metrics.py): only those components install them.
    """
    monitor = any(f.__module__ == "azml_components.runtime.autoscale" for f in reached)
    drift = any(f.__module__ == "azml_components.runtime.drift_metrics" for f in reached)
    return [*pins.AZURE_PACKAGES, *(pins.MONITOR_PACKAGES if monitor else []),
            *(pins.DRIFT_PACKAGES if drift else [])]


def azure_component(func):
    """``@dsl.component`` with our base image, pinned Azure packages and the runtime it calls.

    The runtime functions ``func`` reaches are copied into the component's source
    (``additional_funcs``), which keeps the compiled YAML self-contained and byte-for-byte
    deterministic.
    """
    reached = runtime_functions_for(func)
    component = dsl.component(
        func,
        base_image=pins.BASE_IMAGE,
        packages_to_install=packages_for(reached),
        additional_funcs=[f for f in reached if not inspect.isclass(f)],
    )
    return _program_in_parts(_exec_into_python(_freeze_at_exit(
        _with_records(component, [f for f in reached if inspect.isclass(f)]))))


def for_image(component, image: str):
    """Rebuild an ``azure_component`` for a prebuilt image that already holds every package.

    The image (``image/Dockerfile``: ``pins.IMAGE_PACKAGES`` on ``pins.BASE_IMAGE``, non-root)
    makes the start-up ``pip install`` unnecessary, so the component installs nothing at all: no
    ``packages_to_install`` and ``install_kfp_package=False``. It then needs no package index
    and no writable site-packages. Same function, same embedded runtime.
    """
    func = component.python_func
    reached = runtime_functions_for(func)
    rebuilt = dsl.component(
        func,
        base_image=image,
        packages_to_install=None,
        install_kfp_package=False,
        additional_funcs=[f for f in reached if not inspect.isclass(f)],
    )
    return _program_in_parts(_exec_into_python(_freeze_at_exit(
        _with_records(rebuilt, [f for f in reached if inspect.isclass(f)]))))
