"""Compile every component and every example pipeline into ``compiled/``.

``python -m tools.compile_all`` (what ``nox -s compile`` runs) writes
``compiled/components/<name>.yaml`` and ``compiled/pipelines/<name>.yaml``; ``--check`` compiles
into a temporary folder and exits 1 when ``compiled/`` differs from the source.

``--image REF`` (what ``nox -s compile_image -- REF`` runs) writes the components for a prebuilt
image built from ``image/Dockerfile`` into ``compiled-image/components/`` instead: nothing is
installed when such a component starts. ``compiled/`` is not touched.
"""

import argparse
import filecmp
import importlib
import sys
import tempfile
from pathlib import Path

from kfp import compiler

import azml_components
from azml_components import components
from azml_components._component import for_image

ROOT = Path(__file__).resolve().parent.parent


def _load_pipelines(pipelines_dir: Path) -> dict:
    # Every module in pipelines/ that defines PIPELINE (a @dsl.pipeline) is compiled.
    # pipelines/ is a package beside azml_components (in the repository, not the wheel).
    if str(pipelines_dir.parent) not in sys.path:
        sys.path.insert(0, str(pipelines_dir.parent))
    found = {}
    for path in sorted(pipelines_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pipelines_dir.name}.{path.stem}")
        if hasattr(module, "PIPELINE"):
            found[path.stem] = module.PIPELINE
    return found


def compile_all(
    out_dir: Path, pipelines_dir: Path = ROOT / "pipelines", image: str = ""
) -> list[Path]:
    """Write every compiled file under ``out_dir`` and return their paths.

    With ``image``, only the components, built for that prebuilt image (``for_image``).
    """
    written = []
    (out_dir / "components").mkdir(parents=True, exist_ok=True)
    for name, component in components().items():
        path = out_dir / "components" / f"{name}.yaml"
        compiler.Compiler().compile(for_image(component, image) if image else component, str(path))
        written.append(path)
    if pipelines_dir.is_dir() and not image:
        (out_dir / "pipelines").mkdir(parents=True, exist_ok=True)
        for name, pipeline in _load_pipelines(pipelines_dir).items():
            path = out_dir / "pipelines" / f"{name}.yaml"
            compiler.Compiler().compile(pipeline, str(path))
            written.append(path)
    return written


def drift(compiled_dir: Path) -> list[str]:
    """Return the files that differ between ``compiled_dir`` and a fresh compilation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        compile_all(fresh)
        expected = {p.relative_to(fresh) for p in fresh.rglob("*.yaml")}
        actual = {p.relative_to(compiled_dir) for p in compiled_dir.rglob("*.yaml")}
        problems = [f"missing: {p}" for p in sorted(expected - actual)]
        problems += [f"stale (no source): {p}" for p in sorted(actual - expected)]
        problems += [
            f"differs: {p}"
            for p in sorted(expected & actual)
            if not filecmp.cmp(fresh / p, compiled_dir / p, shallow=False)
        ]
        return problems


def main(argv=None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="default: compiled/, or compiled-image/ with --image")
    parser.add_argument("--check", action="store_true", help="fail if compiled/ is stale")
    parser.add_argument("--image", default="",
                        help="a prebuilt image from image/Dockerfile: components that install "
                             "nothing at start")
    args = parser.parse_args(argv)
    if args.image and args.check:
        parser.error("--check compares compiled/; it does not take --image")
    if args.out is None:
        args.out = ROOT / ("compiled-image" if args.image else "compiled")
    if args.image:
        for path in compile_all(args.out, image=args.image):
            print(f"wrote {path}")
        return 0
    if args.check:
        problems = drift(args.out)
        for line in problems:
            print(line)
        if problems:
            print("compiled/ is stale: run `nox -s compile` and commit the result")
            return 1
        print(f"compiled/ matches the source (azml-components {azml_components.__version__})")
        return 0
    for path in compile_all(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
