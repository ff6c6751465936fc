"""Creating scoring virtual environments and installing into them: uv when installed, else pip.

Online (the default) installs resolve from the package index pip is configured for: pip reads its
own configuration (pip.conf files, PIP_* variables); uv does not read pip's, so its index
settings (index-url, extra-index-url, find-links, no-index, constraint, trusted-host, cert) are
taken from `pip config list` and passed as uv's flags, with `--index-strategy unsafe-best-match`
when there is more than one index (pip considers every index for every package; uv's default takes
a package from the first index that has it). Offline mode installs from a wheelhouse directory
and nothing else (uv: --offline --no-index; pip: no configuration files, --no-index).

Neither installer may download an interpreter: environments are made from the stand-in's own
Python (uv: --no-python-downloads, an explicit --python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

_PROXIES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy")


def find_uv() -> str | None:
    """uv, if installed (on PATH or as the `uv` package): it builds environments ~10x faster."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def base_python() -> str:
    """The interpreter behind any venv we run in: scoring venvs must not nest in ours."""
    return getattr(sys, "_base_executable", None) or sys.executable


def scoring_env() -> dict[str, str]:
    """The environment of scoring processes: they talk only to loopback, never via a proxy.

    Environments are installed without bytecode (compiling all of MLflow's stack took most of
    a minute-long build); a scoring process writes the bytecode of what it imports, once, so
    PYTHONDONTWRITEBYTECODE is not passed on: with it, every start would compile that again.
    """
    drop = {*_PROXIES, "PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def installer_env() -> dict[str, str]:
    """The environment of installs: proxies to the index kept, loopback ones dropped.

    A loopback proxy is the stand-in's own, which forwards to Azurite only.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for name in _PROXIES:
        host = urlparse(env.get(name, "")).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1"):
            env.pop(name)
    return env


def pip_settings() -> dict[str, list[str]]:
    """The effective pip install options that choose where packages come from.

    From `pip config list` (files and PIP_* variables as pip merges them); precedence as pip's
    own: environment over the [install] section over [global].
    """
    listed = ""
    for python in dict.fromkeys([sys.executable, base_python()]):
        result = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True,
                                text=True, env=installer_env())
        if result.returncode == 0:
            listed = result.stdout
            break
    found: dict[tuple[str, str], str] = {}
    for line in listed.splitlines():
        key, sep, value = line.partition("=")
        section, _, name = key.rpartition(".")
        if sep and section in (":env:", "global", "install"):
            found[(section, name)] = value.strip().strip("'\"")
    if not listed:  # no pip to ask: its environment variables at least
        for name in ("index-url", "extra-index-url", "find-links", "no-index", "constraint"):
            value = os.environ.get("PIP_" + name.upper().replace("-", "_"))
            if value:
                found[(":env:", name)] = value
    settings = {}
    for name in ("index-url", "extra-index-url", "find-links", "no-index", "constraint",
                 "trusted-host", "cert"):
        for section in (":env:", "install", "global"):
            if (section, name) in found:
                settings[name] = found[(section, name)].split()
                break
    return settings


def uv_flags(settings: dict[str, list[str]]) -> tuple[list[str], dict[str, str]]:
    """(uv pip install flags, extra environment) equivalent to pip's `settings`."""
    flags: list[str] = []
    env: dict[str, str] = {}
    for url in settings.get("index-url", []):
        flags += ["--index-url", url]
    for url in settings.get("extra-index-url", []):
        flags += ["--extra-index-url", url]
    for place in settings.get("find-links", []):
        flags += ["--find-links", place]
    for path in settings.get("constraint", []):
        flags += ["--constraints", path]
    for host in settings.get("trusted-host", []):
        flags += ["--allow-insecure-host", host]
    if any(v.lower() in ("1", "true", "yes", "on") for v in settings.get("no-index", [])):
        flags.append("--no-index")
    if settings.get("extra-index-url") or settings.get("find-links"):
        flags += ["--index-strategy", "unsafe-best-match"]
    if settings.get("cert"):
        env["SSL_CERT_FILE"] = settings["cert"][0]
    return flags, env


def create_venv(venv: Path, uv: str | None, online: bool) -> subprocess.CompletedProcess[str]:
    """A fresh virtual environment on the stand-in's Python."""
    if uv:
        command = [uv, "venv", "--quiet", "--no-config", "--no-python-downloads", "--python",
                   base_python(), str(venv)]
    else:  # online, pip updates itself first: old bundled pips have resolver bugs
        command = [base_python(), "-m", "venv", *(["--upgrade-deps"] if online else []),
                   str(venv)]
    return subprocess.run(command, capture_output=True, text=True, env=installer_env())


def install_command(venv: Path, requirements_file: Path, *, uv: str | None,
                    wheelhouse: Path | None,
                    settings: dict[str, list[str]] | None = None,
                    ) -> tuple[list[str], dict[str, str]]:
    """(command, environment) installing `requirements_file` (pip's -r) into `venv`.

    `settings`: pip's index settings for uv (default: read now with pip_settings()).
    uv uses its own cache (UV_CACHE_DIR, else ~/.cache/uv), which the installs of the venv that
    runs local mode fill too, so the packages both hold (MLflow, scikit-learn, pandas for the
    example) are not downloaded twice.
    """
    env = installer_env()
    python = str(venv / "bin" / "python")
    if uv:
        command = [uv, "pip", "install", "--no-config", "--no-python-downloads", "--python",
                   python]
        if wheelhouse is not None:
            command += ["--offline", "--no-index", "--find-links", str(wheelhouse)]
        else:
            flags, extra = uv_flags(pip_settings() if settings is None else settings)
            command += flags
            env.update(extra)
    else:
        command = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile"]
        if wheelhouse is not None:
            env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
            env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
            command += ["--no-index", "--find-links", str(wheelhouse)]
    return [*command, "-r", str(requirements_file)], env


def fill_wheelhouse(wheelhouse: Path, requirement_sets: list[list[str]]) -> None:
    """Download the wheels of each requirement set (and its dependencies) into `wheelhouse`.

    Each set resolves on its own (they may pin different versions of one package); this is the
    only step of offline mode that talks to the package index.
    """
    wheelhouse.mkdir(parents=True, exist_ok=True)
    stamp = wheelhouse / ".requirements.json"
    wanted = sorted(sorted(s) for s in requirement_sets)
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"wheelhouse {wheelhouse} is up to date")
        return
    for requirements in wanted:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet",
                        "--disable-pip-version-check", "--only-binary=:all:", "--dest",
                        str(wheelhouse), *requirements], check=True, env=installer_env())
    stamp.write_text(json.dumps(wanted))
    print(f"wheelhouse {wheelhouse}: {len(list(wheelhouse.glob('*.whl')))} wheels")
