"""Developer and CI entry points. `python3 -m nox -l` lists them."""

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
WHEELHOUSE = ROOT / ".wheelhouse"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[test]")


def _stand_in_prerequisites(session: nox.Session) -> None:
    # Azurite from the lock file; the scoring environments' wheels, so the stand-in builds them
    # offline (the only step of a test run that talks to a package registry).
    if shutil.which("npm") is None:
        session.error("npm is required for the Azurite storage emulator (install Node.js 18+)")
    if not (ROOT / "node_modules" / ".bin" / "azurite-blob").exists():
        session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    session.run("python", "-m", "tests.standin.serving", "--fill-wheelhouse", str(WHEELHOUSE))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff over the whole tree."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Lint, then the whole test suite against the local Azure ML stand-in."""
    _install(session)
    session.run("ruff", "check", ".")
    _stand_in_prerequisites(session)
    session.run("python", "-m", "pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def compile(session: nox.Session) -> None:
    """Regenerate compiled/ and the README's component reference (commit the result)."""
    _install(session)
    session.run("python", "-m", "azml_components.compile_all")
    session.run("python", "-m", "azml_components.reference")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The example pipeline end to end on the local stand-in, then check compiled/ is current."""
    _install(session)
    _stand_in_prerequisites(session)
    session.run("python", "-m", "pipelines.run_local", *session.posargs)
    # The demo never rewrites tracked files; it only reports drift.
    session.run("python", "-m", "azml_components.compile_all", "--check")


@nox.session(python=PYTHON)
def wheelhouse(session: nox.Session) -> None:
    """Download the wheels the stand-in's scoring environments are built from."""
    _install(session)
    _stand_in_prerequisites(session)


@nox.session(python=PYTHON)
def standin(session: nox.Session) -> None:
    """Run the local Azure ML stand-in in the foreground; prints the variables to export."""
    _install(session)
    _stand_in_prerequisites(session)
    state = os.environ.get("AZML_STANDIN_STATE", str(ROOT / ".standin" / "state"))
    session.run("python", "-m", "tests.standin", "--state-dir", state, *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Wall-time benchmarks of the stand-in and the components (writes bench/results/)."""
    _install(session)
    _stand_in_prerequisites(session)
    session.run("python", "-m", "tests.benchmarks")
