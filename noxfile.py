"""Developer and CI entry points. `python3 -m nox -l` lists them."""

import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
WHEELHOUSE = ROOT / ".wheelhouse"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    # Two distributions from this checkout: the components and the local Azure ML (azml-local/).
    session.install("-e", "./azml-local", "-e", ".[test]")


def _local_mode(session: nox.Session) -> None:
    # Local mode's caches live in the checkout (git-ignored) so runs reuse them; Azurite is
    # installed from its lock file now rather than at the first stand-in start. Scoring
    # environments build from the package index pip is configured for; AZML_LOCAL_WHEELHOUSE, if
    # set in the calling environment (see the wheelhouse session), makes them build offline.
    session.env.setdefault("AZML_LOCAL_CACHE", str(ROOT / ".standin"))
    session.run("python", "-m", "azml_local", "--install-only")


def _chromium(session: nox.Session) -> None:
    # check_drift's HTML report is opened in Debian's headless chromium
    # (tests/runtime/test_drift_report_browser.py). Installed here when missing and running as
    # root; otherwise the run stops with what to do (the test never skips).
    import shutil

    if shutil.which("chromium"):
        return
    if os.geteuid() != 0:
        session.error("chromium is missing: run `apt-get update && apt-get install -y chromium` "
                      "as root (the drift report test opens the report in it)")
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "chromium", external=True,
                env={"DEBIAN_FRONTEND": "noninteractive"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff over the whole tree."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Lint, then the whole test suite against local mode's Azure ML."""
    _install(session)
    session.run("ruff", "check", ".")
    _local_mode(session)
    _chromium(session)
    # Random order (pytest-randomly, from the test extra): the seed is printed at the end, and
    # `nox -s tests -- -q --randomly-seed=N` replays an order.
    # Three pytest-xdist workers, each starting its own local Azure ML (`-- -n 0` runs one).
    session.run("python", "-m", "pytest", "-p", "randomly", "-n", "3",
                *(session.posargs or ["-q"]))


@nox.session(python=PYTHON)
def tests_loaded(session: nox.Session) -> None:
    """The whole suite while other processes keep every core busy.

    Tests must not lean on the machine's speed (no timed assertions; crash and signal tests act
    on observed state): this run shows they do not. One busy loop per core runs for as long as
    the suite does and is stopped with it.
    """
    import subprocess
    import sys

    _install(session)
    _local_mode(session)
    _chromium(session)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        session.run("python", "-m", "pytest", "-p", "randomly", "-n", "3",
                    *(session.posargs or ["-q"]))
    finally:
        for process in busy:
            process.kill()
            process.wait()


@nox.session(python=PYTHON)
def mutate(session: nox.Session) -> None:
    """Deliberate bugs the tests must catch: mutmut, then guarantee mutations (docs/guarantees.md).

    mutmut mutates the runtime modules with fast tests (pyproject's [tool.mutmut]); each
    guarantee mutation in tests/mutation/guarantees.py is patched into a temporary copy of the
    checkout and its tests run there. Writes .mutation/results.{json,md}. .ci/run runs it after
    the tests; `nox -s mutate -- --only NAME` runs one guarantee row.
    """
    _install(session)
    session.install("mutmut==3.8.1")
    _local_mode(session)
    session.run("python", "-m", "tests.mutation.run", *session.posargs)


@nox.session(python=PYTHON)
def compile(session: nox.Session) -> None:
    """Regenerate what follows from the source (commit the result).

    The parts of component and runtime modules declared in azml_components/settings.py, then
    compiled/, then the component reference docs/components.md.
    """
    _install(session)
    session.run("python", "-m", "tools.generate_settings")
    session.run("python", "-m", "tools.compile_all")
    session.run("python", "-m", "tools.reference")


@nox.session(python=PYTHON)
def compile_image(session: nox.Session) -> None:
    """Components for a prebuilt image (image/Dockerfile): `nox -s compile_image -- REF`.

    Writes compiled-image/components/ (compiled/ is not touched): the components run on REF and
    install nothing at start. Build and push REF from image/Dockerfile first.
    """
    if not session.posargs:
        session.error("give the image: nox -s compile_image -- registry.example/azml:TAG")
    _install(session)
    session.run("python", "-m", "tools.compile_all", "--image", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The example pipeline end to end on local mode's Azure ML, then check compiled/ is current."""
    _install(session)
    _local_mode(session)
    session.run("python", "-m", "pipelines.run_local", *session.posargs)
    # The demo never rewrites tracked files; it only reports drift.
    session.run("python", "-m", "tools.compile_all", "--check")


@nox.session(python=PYTHON)
def wheelhouse(session: nox.Session) -> None:
    """Download the example's scoring environments into .wheelhouse/ for offline builds.

    Then `AZML_LOCAL_WHEELHOUSE=$PWD/.wheelhouse python3 -m nox -s demo` (or standin) builds
    scoring environments from it alone, with no package index (air-gapped machines). Only the
    example's environments are in it; the test suite needs the package index.
    """
    _install(session)
    _local_mode(session)
    # The emulator knows MLflow's recorded environment; the example's scoring packages are ours.
    session.run("python", "-m", "azml_local.serving.manager", "--fill-wheelhouse",
                str(WHEELHOUSE))
    example = session.run("python", "-c", "from azml_components.pins import "
                          "EXAMPLE_SCORING_PACKAGES as p; print(' '.join(p))", silent=True)
    session.run("python", "-m", "azml_local.serving.manager", "--fill-wheelhouse",
                str(WHEELHOUSE), *example.split())
    session.log(f"offline mode: export AZML_LOCAL_WHEELHOUSE={WHEELHOUSE}")


@nox.session(python=PYTHON)
def standin(session: nox.Session) -> None:
    """Local mode's Azure ML in the foreground; prints the variables to export."""
    _install(session)
    _local_mode(session)
    state = os.environ.get("AZML_LOCAL_STATE", str(ROOT / ".standin" / "state"))
    session.run("python", "-m", "azml_local", "--state-dir", state, *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Ours against the bare SDK, side by side on one stand-in, as ratios (bench/results/).

    `nox -s bench -- --model-mb 1024 --small-files 100` is the issue's 1 GiB folder.
    """
    _install(session)
    _local_mode(session)
    session.run("python", "-m", "bench.benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs.yml, docs/) into site/; any warning fails it.

    Installs pyproject's `docs` extra on its own (the site needs neither kfp nor the package).
    """
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    session.install(*project["optional-dependencies"]["docs"])
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's end-of-life notice, on every build
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"), *session.posargs)
