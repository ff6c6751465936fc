"""Write the parts of the sources that follow from ``azml_components/settings.py``.

``python -m tools.generate_settings`` (``nox -s compile`` runs it) rewrites, in place:

- in a signature, the lines between ``# <settings: GROUP>`` and ``# </settings>``: one parameter
  per setting (``NAME: TYPE = DEFAULT``; in a runtime file, the setting's runtime parameter; in
  a record, its field);
- in a component's docstring, the ``Args:`` entry of every declared setting it takes.

A component hands its deployment settings on as ``azml_deployment_options_of(locals())``, so
no call lists them.

Everything else in a file is written by hand. ``--check`` writes nothing and exits 1 when a file
differs from what it would write (tests/test_compiled.py runs the same check).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

from azml_components.settings import GROUPS, Setting

ROOT = Path(__file__).resolve().parent.parent
# Component modules (signature, docstring, calls) and runtime modules (signature regions only).
COMPONENTS = [
    "azml_components/batch_endpoints.py",
    "azml_components/delete_resources.py",
    "azml_components/deploy_model.py",
    "azml_components/invoke_endpoint.py",
    "azml_components/promote_model.py",
    "azml_components/recover_rollout.py",
    "azml_components/register_model.py",
    "azml_components/safe_rollout.py",
    "azml_components/set_traffic.py",
]
# Runtime function signatures (parameters end with a comma) and records (fields do not).
RUNTIME = ["azml_components/runtime/deployment_options.py"]
RECORDS = ["azml_components/runtime/records.py"]
WIDTH = 100
REGION = re.compile(
    r"^(?P<indent> *)# <settings: (?P<group>\w+)>\n(?P<body>.*?)^(?P=indent)# </settings>\n",
    re.M | re.S,
)
# Groups every component documents by name; any other group's entries are written only in a
# function that takes the group (a `# <settings: GROUP>` region in its signature), since an
# input of the same name can mean something else elsewhere (deploy_batch_model's compute).
EVERYWHERE = ("workspace", "subscription")


def _parameter(setting: Setting, runtime: bool) -> str:
    if runtime:
        if setting.runtime:
            return setting.runtime
        annotation, default = setting.annotation, setting.default
        if default in ("{}", "[]"):
            annotation, default = f"Optional[{annotation}]", "None"
        return f"{setting.name}: {annotation} = {default}"
    line = f"{setting.name}: {setting.annotation}"
    if setting.default:
        line += f" = {setting.default}"
        if setting.default in ("{}", "[]"):
            line += ",  # noqa: B006 - KFP reads defaults; never mutated"
            return line
    return line + ","


def _region(match: re.Match, mode: str) -> str:
    indent, group = match["indent"], GROUPS[match["group"]]
    comma = "," if mode == "runtime" else ""
    lines = [f"{indent}{_parameter(s, mode != 'component')}{comma}" for s in group]
    head = f"{indent}# <settings: {match['group']}>\n"
    return head + "".join(line + "\n" for line in lines) + f"{indent}# </settings>\n"


def _doc_entry(setting: Setting) -> list[str]:
    return textwrap.wrap(
        f"{setting.name}: {setting.doc}", WIDTH, initial_indent=" " * 8,
        subsequent_indent=" " * 12, break_on_hyphens=False,
    )


def _docstring_args(source: str) -> str:
    # Per top-level function: each Args entry starts at 8 spaces ("NAME: ..."); its
    # continuation lines are indented deeper. A declared name's entry is replaced by the
    # declaration's text.
    parts = re.split(r"(?m)^(?=@|def )", source)
    return "".join(_function_args(part) for part in parts)


def _function_args(source: str) -> str:
    regions = re.findall(r"# <settings: (\w+)>", source)
    taken = set(EVERYWHERE) | set(regions)
    settings = {s.name: s for group in taken for s in GROUPS[group]}
    out, lines, i, in_args = [], source.split("\n"), 0, False
    ends = {}  # documented name -> where its entry ends in `out`
    while i < len(lines):
        line = lines[i]
        if line.strip() == "Args:":
            in_args = True
        elif in_args and (line.strip() in ("Returns:", "Yields:", "Raises:", '"""')):
            in_args = False
        entry = re.match(r"^ {8}(\w+): ", line) if in_args else None
        if entry:
            name = entry[1]
            out += _doc_entry(settings[name]) if name in settings else [line]
            i += 1
            while i < len(lines) and lines[i].startswith(" " * 12) and lines[i].strip():
                if name not in settings:
                    out.append(lines[i])
                i += 1
            ends[name] = len(out)
            continue
        out.append(line)
        i += 1
    # A setting of a group the signature takes that has no entry yet (one just declared) gets
    # one after the entry of the setting before it in the declaration.
    for group in regions:
        previous = None
        for setting in GROUPS[group]:
            if setting.name not in ends and previous is not None:
                at = ends[previous]
                entry = _doc_entry(setting)
                out[at:at] = entry
                ends = {n: e + len(entry) if e >= at else e for n, e in ends.items()}
                ends[setting.name] = at + len(entry)
            previous = setting.name if setting.name in ends else previous
    return "\n".join(out)


def generated(path: Path, mode: str) -> str:
    """Return ``path``'s text with every generated part as the declaration makes it.

    ``mode``: component (signature, calls, docstring), runtime (a function's parameters) or
    record (a NamedTuple's fields).
    """
    text = path.read_text()
    text = REGION.sub(lambda m: _region(m, mode), text)
    return _docstring_args(text) if mode == "component" else text


def _files() -> list[tuple[Path, str]]:
    return (
        [(ROOT / f, "component") for f in COMPONENTS]
        + [(ROOT / f, "runtime") for f in RUNTIME]
        + [(ROOT / f, "record") for f in RECORDS]
    )


def drift() -> list[str]:
    """Return the files whose generated parts differ from the declaration."""
    return [str(p.relative_to(ROOT)) for p, m in _files() if generated(p, m) != p.read_text()]


def main(argv=None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        for name in stale:
            print(f"stale: {name}")
        if stale:
            print("run `nox -s compile` (python -m tools.generate_settings) and commit the result")
        return 1 if stale else 0
    for path, mode in _files():
        new = generated(path, mode)
        if new != path.read_text():
            path.write_text(new)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
