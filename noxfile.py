"""Developer and CI entry points. `python3 -m nox -l` lists them."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
WHEELHOUSE = ROOT / ".wheelhouse"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
PYTHON = "3.11"
# uv makes the virtualenvs and installs into them when nox finds it (`pip install 'nox[uv]'`
# brings it; nox also looks on PATH); plain virtualenv + pip otherwise, so `pip install nox`
# alone still works. uv's venvs have no pip, which kfp.local tasks call: _install adds it.
BACKEND = "uv|virtualenv"


def _write_bytecode(session: nox.Session) -> None:
    # uv installs without compiling bytecode (pip compiles at install). Where
    # PYTHONDONTWRITEBYTECODE is set (some machines and images set it), nothing would then ever
    # write it, and every process (each kfp.local task, each test's child) would compile
    # azure-ai-ml and the rest from source again: `import azure.ai.ml` 3.6 s instead of 1.5 s.
    # The session's venv is ours; its processes write what they import, once.
    session.env["PYTHONDONTWRITEBYTECODE"] = None


def _process_env(session: nox.Session) -> dict:
    # The session's environment for processes started here, not by session.run (None unsets).
    merged = {**os.environ, **session.env}
    return {k: v for k, v in merged.items() if v is not None}


def _install(session: nox.Session, extra: str = "test") -> None:
    # Two distributions from this checkout: the components and the local Azure ML (azml-local/).
    # pip too: kfp.local runs each task's `python3 -m pip install` (already satisfied) in this
    # venv, and a uv venv has none.
    _write_bytecode(session)
    session.install("pip", "-e", "./azml-local", f"-e.[{extra}]")


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


@nox.session(python=PYTHON, venv_backend=BACKEND)
def lint(session: nox.Session) -> None:
    """Ruff over the whole tree."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON, venv_backend=BACKEND)
def tests(session: nox.Session) -> None:
    """Lint, then the whole test suite against local mode's Azure ML."""
    _install(session)
    session.run("ruff", "check", ".")
    _local_mode(session)
    _chromium(session)
    # Random order (pytest-randomly, from the test extra): the seed is printed at the end, and
    # `nox -s tests -- -q --randomly-seed=N` replays an order.
    # Four pytest-xdist workers on 2 cores, each starting its own local Azure ML (`-- -n 0` runs
    # one): 710 s against 775 s with three. worksteal: an idle worker takes queued tests from a
    # busy one, so a few long tests (storage's retry backoff, rollouts) do not leave one worker
    # running alone at the end.
    session.run("python", "-m", "pytest", "-p", "randomly", "-n", "4", "--dist", "worksteal",
                *(session.posargs or ["-q"]))


@nox.session(python=PYTHON, venv_backend=BACKEND)
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
        session.run("python", "-m", "pytest", "-p", "randomly", "-n", "4", "--dist", "worksteal",
                    *(session.posargs or ["-q"]))
    finally:
        for process in busy:
            process.kill()
            process.wait()


@nox.session(python=PYTHON, venv_backend=BACKEND)
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


@nox.session(python=PYTHON, venv_backend=BACKEND)
def compile(session: nox.Session) -> None:
    """Regenerate what follows from the source (commit the result).

    The parts of component and runtime modules declared in azml_components/settings.py, then
    compiled/, then the component reference docs/components.md.
    """
    _install(session)
    session.run("python", "-m", "tools.generate_settings")
    session.run("python", "-m", "tools.compile_all")
    session.run("python", "-m", "tools.reference")


@nox.session(python=PYTHON, venv_backend=BACKEND)
def compile_image(session: nox.Session) -> None:
    """Components for a prebuilt image (image/Dockerfile): `nox -s compile_image -- REF`.

    Writes compiled-image/components/ (compiled/ is not touched): the components run on REF and
    install nothing at start. Build and push REF from image/Dockerfile first.
    """
    if not session.posargs:
        session.error("give the image: nox -s compile_image -- registry.example/azml:TAG")
    _install(session)
    session.run("python", "-m", "tools.compile_all", "--image", *session.posargs)


class _Phases:
    """Seconds per phase of a session, appended as JSON lines to $AZML_DEMO_TIMINGS when set.

    The first-run benchmark (bench/first_run.py) reads them; pipelines/run_local.py adds its own.
    """

    def __init__(self, session: nox.Session):
        self.session, self.path = session, os.environ.get("AZML_DEMO_TIMINGS")

    def record(self, phase: str, seconds: float) -> None:
        self.session.log(f"{phase}: {seconds:.1f} s")
        if self.path:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"phase": phase, "seconds": round(seconds, 2)}) + "\n")

    def timed(self, phase: str, function, *args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            self.record(phase, time.perf_counter() - started)


class _LocalModeInBackground:
    """Local mode started while the session installs the rest (Azurite's npm install first).

    Runs the venv's `python -m azml_local` once azml-local is installed; it writes `ready_file`
    (its variables) when it is up, or `failed_file` (why not); `stop()` ends it.
    """

    def __init__(self, session: nox.Session, phases: _Phases):
        self.state = Path(tempfile.mkdtemp(prefix="azml-demo-"))
        bindir = Path(session.virtualenv.bin)
        self.python = str(bindir / "python")
        self.env = _process_env(session)
        self.env["PATH"] = f"{bindir}{os.pathsep}{self.env.get('PATH', '')}"
        self.phases, self.process = phases, None
        # pipelines/run_local.py waits for these (AZML_LOCAL_READY_FILE), so the examples start
        # while local mode does.
        self.ready_file = self.state / "state" / "ready.json"
        self.failed_file = self.state / "state" / "ready.json.failed"
        self.installed_file = self.state / "state" / "ready.json.installed"
        self.failed_file.parent.mkdir(parents=True, exist_ok=True)
        self.thread = threading.Thread(target=self._start, daemon=True)
        self.thread.start()

    def _start(self) -> None:
        try:
            # Installed from its lock file into the cache on first use (AZML_LOCAL_CACHE).
            self.phases.timed("azurite install (background)", subprocess.run,
                              [self.python, "-m", "azml_local", "--install-only"],
                              env=self.env, check=True, capture_output=True)
            self.installed_file.touch()  # run_local's examples import from now on
            started = time.perf_counter()
            log = open(self.state / "standin.log", "ab")
            self.process = subprocess.Popen(
                [self.python, "-m", "azml_local", "--state-dir", str(self.state / "state")],
                stdout=log, stderr=subprocess.STDOUT, env=self.env)
            while not self.ready_file.exists() and self.process.poll() is None:
                time.sleep(0.05)
            self.phases.record("local mode start (background)", time.perf_counter() - started)
            if not self.ready_file.exists():
                raise RuntimeError(f"local mode exited with {self.process.returncode}")
        except BaseException as error:  # reported to run_local by the file
            log = self.state / "standin.log"
            detail = (getattr(error, "stderr", b"") or b"").decode(errors="replace")[-2000:]
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            self.failed_file.write_text(f"{error!r}\n{detail}{tail}")

    def stop(self) -> None:
        self.thread.join()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: it stops everything it started
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class _InBackground:
    """One command run in a thread while the session goes on; its seconds go to `phases`."""

    def __init__(self, phases: _Phases, phase: str, command: list, env: dict, log: Path):
        self.done, self.log = None, log
        # At a lower priority: on 2 cores the examples' tasks, which the user waits for, come
        # first; this work fills the time they spend waiting on local mode.
        if shutil.which("nice"):
            command = ["nice", "-n", "10", *command]

        def run() -> None:
            with open(log, "ab") as out:
                self.done = phases.timed(phase, subprocess.run, command, env=env, stdout=out,
                                         stderr=subprocess.STDOUT)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()


def _install_unless_done(session: nox.Session, phases: _Phases, phase: str, *args: str) -> None:
    """session.install(*args), skipped when this venv already holds that same install.

    The same install is the same arguments and the same pyproject.toml files (our checkouts
    install editable, so their code is always current; their requirements are in those files).
    A second `nox -s demo` then spends no time on installs; a changed requirement reinstalls.
    """
    import hashlib

    digest = hashlib.sha256(json.dumps(args).encode())
    for manifest in (ROOT / "pyproject.toml", ROOT / "azml-local" / "pyproject.toml"):
        digest.update(manifest.read_bytes())
    slug = "".join(c if c.isalnum() else "-" for c in phase)
    stamp = Path(session.virtualenv.location) / f".azml-installed-{slug}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        session.log(f"{phase}: installed already (same requirements)")
        phases.record(phase, 0.0)
        return
    phases.timed(phase, session.install, *args)
    stamp.write_text(digest.hexdigest())


def _example_scoring_packages() -> list:
    import runpy

    return runpy.run_path(str(ROOT / "azml_components" / "pins.py"))["EXAMPLE_SCORING_PACKAGES"]


@nox.session(python=PYTHON, venv_backend=BACKEND)
def demo(session: nox.Session) -> None:
    """The example pipelines end to end on local mode's Azure ML, then check compiled/ is current.

    `nox -s demo -- --subscription S --resource-group G --workspace W` runs them on your own
    Azure ML workspace instead (pipelines/run_local.py; docs/try-on-your-cluster.md): no local
    mode is started then.
    """
    phases = _Phases(session)
    session.env.setdefault("AZML_LOCAL_CACHE", str(ROOT / ".standin"))
    _write_bytecode(session)
    own_workspace = any(a.split("=")[0] == "--subscription" for a in session.posargs)
    # Local mode's own distribution first (a few small packages): it starts, Azurite's install
    # included, while the components and the example's packages install.
    _install_unless_done(session, phases, "install azml-local", "pip", "-e", "./azml-local")
    background = None if own_workspace else _LocalModeInBackground(session, phases)
    prepare = imports = None
    try:
        _install_unless_done(session, phases, "install components + example", "-e.[demo]")
        # What the tasks import, compiled to bytecode once, in a new venv (uv installs without
        # it, and compiling every installed file takes longer than these few): not in a task.
        marker = Path(session.virtualenv.location) / ".azml-imports-compiled"
        imports = None if marker.exists() else _InBackground(
            phases, "warm imports (background)",
            [str(Path(session.virtualenv.bin) / "python"), "-c",
             "import kfp.dsl, azure.ai.ml, azure.identity, mlflow.sklearn, sklearn.linear_model,"
             f" pandas, pathlib; pathlib.Path({str(marker)!r}).touch()"],
            _process_env(session), Path(tempfile.mkdtemp()) / "imports.log")
        env = {}
        if background is not None:
            # The two example scoring environments (MLflow's recorded one, the custom one's
            # packages) build now, in local mode's cache, rather than at the deployments.
            prepare = _InBackground(
                phases, "scoring environments (background)",
                [background.python, "-m", "azml_local.serving.manager", "--prepare",
                 *_example_scoring_packages()], background.env,
                background.state / "prepare.log")
            # run_local starts the examples now; they wait for local mode before their tasks.
            env = {"AZML_LOCAL_READY_FILE": str(background.ready_file)}
        # The demo never rewrites tracked files; it only reports drift, while the pipelines run.
        check = _InBackground(phases, "compile check (background)",
                              [str(Path(session.virtualenv.bin) / "python"), "-m",
                               "tools.compile_all", "--check"],
                              _process_env(session),
                              Path(tempfile.mkdtemp(prefix="azml-check-")) / "check.log")
        phases.timed("pipelines (run_local)", session.run, "python", "-m",
                     "pipelines.run_local", *session.posargs, env=env)
        check.join()
        if check.done.returncode:
            session.error(f"compiled/ is not current:\n{check.log.read_text()[-3000:]}")
        session.log(" ".join(check.log.read_text().strip().splitlines()[-1:]))
    finally:
        if background is not None:
            background.stop()
        for waiting in (prepare, imports):
            if waiting is not None:
                waiting.join()


@nox.session(python=PYTHON, venv_backend=BACKEND)
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


@nox.session(python=PYTHON, venv_backend=BACKEND)
def standin(session: nox.Session) -> None:
    """Local mode's Azure ML in the foreground; prints the variables to export."""
    _install(session)
    _local_mode(session)
    state = os.environ.get("AZML_LOCAL_STATE", str(ROOT / ".standin" / "state"))
    session.run("python", "-m", "azml_local", "--state-dir", state, *session.posargs)


@nox.session(python=PYTHON, venv_backend=BACKEND)
def bench(session: nox.Session) -> None:
    """Ours against the bare SDK, side by side on one stand-in, as ratios (bench/results/).

    `nox -s bench -- --model-mb 1024 --small-files 100` is the issue's 1 GiB folder.
    """
    _install(session)
    _local_mode(session)
    session.run("python", "-m", "bench.benchmarks", *session.posargs)


@nox.session(python=PYTHON, venv_backend=BACKEND)
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs.yml, docs/) into site/; any warning fails it.

    Installs pyproject's `docs` extra on its own (the site needs neither kfp nor the package).
    """
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    session.install(*project["optional-dependencies"]["docs"])
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's end-of-life notice, on every build
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"), *session.posargs)


@nox.session(python=False)
def bench_first_run(session: nox.Session) -> None:
    """The README's demo command on a fresh machine, cold then warm (bench/results/first_run.*).

    Clones HEAD into a temporary folder with empty caches (bench/first_run.py says what "fresh"
    means), runs `pip install 'nox[uv]'` and `nox -s demo` there twice and writes the times
    with a breakdown per phase. `-- --nox-spec nox` measures the fallback without uv;
    `-- --tests` also times `nox -s tests`. Needs only the Python running nox.
    """
    import sys

    session.run(sys.executable, "-m", "bench.first_run", *session.posargs)
