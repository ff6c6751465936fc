"""A pipeline as it runs from the prebuilt image: each task's start-up ``pip install`` dropped.

Every compiled task starts with kfp's install step, ``sh -c "pip install <pins> && python3 -m
pip install kfp==... && exec "$0" "$@"" sh -ec "<launcher>" <program>``, which on a cluster
installs the pins into a fresh container. In kfp.local with ``SubprocessRunner(use_venv=False)``
the task runs in this environment, where the pins already are, so those two pip runs only check
that and cost about 2 s of every task. ``preinstalled`` checks once that every requirement the
tasks would install is satisfied here (a pin that is not is an error that names it: pip would
have installed it), and returns the pipeline with each task's command cut to
the ``sh -ec "<launcher>" <program>`` that follows the install step, which is what
``for_image`` (``nox -s compile_image``) compiles for the prebuilt image. Same program, same
inputs and outputs, same KFP launcher rules.

The demo (pipelines/run_local.py) runs its examples this way; the tests of compiled/ run the
commands as compiled, install step included.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex

# kfp's install step: `sh -c "<script>" ...` whose script ends by handing over to the launcher.
_HANDOVER = re.compile(r'&&\s+(exec\s+)?"\$0" "\$@"\s*$')


class NotInstalled(RuntimeError):
    """A task's pinned requirement is not satisfied in this environment."""


def install_requirements(script: str) -> list[str]:
    """Return the requirements each ``pip install`` of kfp's install script names, in order."""
    found: list[str] = []
    words = shlex.split(script, posix=True)
    for index, word in enumerate(words):
        if word == "install" and words[index - 1] == "pip":
            for argument in words[index + 1:]:
                if argument in ("&&", "||", ";"):
                    break
                if not argument.startswith("-"):
                    found.append(argument)
    return found


def unsatisfied(requirement: str) -> str | None:
    """Why ``requirement`` (a pip line) is not satisfied here, or None when it is."""
    from packaging.requirements import Requirement

    parsed = Requirement(requirement)
    if parsed.marker is not None and not parsed.marker.evaluate():
        return None  # pip skips it here too
    try:
        installed = importlib.metadata.version(parsed.name)
    except importlib.metadata.PackageNotFoundError:
        return f"{requirement!r}: {parsed.name} is not installed"
    if not parsed.specifier.contains(installed, prereleases=True):
        return f"{requirement!r}: {parsed.name} {installed} is installed"
    return None


def without_install_step(command: list[str]) -> tuple[list[str], list[str]]:
    """Return a task's command with kfp's install step cut, and the requirements it named.

    A command without the step (a component for the prebuilt image) comes back as it is.
    """
    if command[:2] != ["sh", "-c"] or not _HANDOVER.search(command[2]):
        return list(command), []
    return list(command[3:]), install_requirements(command[2])


def cut_install_steps(executors: dict) -> None:
    """Cut kfp's install step from each executor of a pipeline's deploymentSpec, in place.

    Raises:
        NotInstalled: a requirement a task would install is not satisfied here; names each.
    """
    problems: list[str] = []
    for name, executor in sorted(executors.items()):
        container = executor.get("container")
        if not container:
            continue
        container["command"], requirements = without_install_step(container["command"])
        problems += [f"{name}: {why}" for why in map(unsatisfied, requirements) if why]
    if problems:
        raise NotInstalled("the tasks' pinned packages are not all installed here, so they "
                           "cannot run as from the prebuilt image; install them (`pip install "
                           "-e '.[demo]'`) or run the compiled commands:\n  "
                           + "\n  ".join(problems))


def preinstalled(pipeline):
    """Return a copy of ``pipeline`` (a ``@dsl.pipeline``) with every task's install step cut.

    Call the result as the pipeline itself, under ``kfp.local.init(runner=SubprocessRunner(
    use_venv=False))``: kfp.local runs the copy's pipeline spec, whose executors are edited
    here (the same spec the compiler writes to YAML; no YAML is written or read).
    """
    import copy

    from google.protobuf import json_format

    clone = copy.deepcopy(pipeline)
    spec = clone.component_spec.implementation.graph
    deployment = json_format.MessageToDict(spec.deployment_spec)
    cut_install_steps(deployment["executors"])
    spec.deployment_spec.Clear()
    spec.deployment_spec.update(deployment)
    return clone
