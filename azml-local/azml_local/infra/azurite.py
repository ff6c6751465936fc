"""Azurite (Microsoft's storage emulator, from npm) as the workspace's blob storage.

Azurite is installed on first use with ``npm ci`` from the package.json and package-lock.json
shipped beside this module, into local mode's cache directory; Node.js and npm must be on PATH.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from azure.storage.blob import (
    BlobServiceClient,
    ContainerSasPermissions,
    generate_container_sas,
)

from azml_local.infra.paths import cache_dir
from azml_local.infra.procs import die_with_parent

MANIFEST_DIR = Path(__file__).resolve().parent / "azurite"
ACCOUNT = "devstoreaccount1"
# Azurite's documented, well-known development key (public; not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_LISTENING = re.compile(r"listens on https://127\.0\.0\.1:(\d+)")


class AzuriteError(RuntimeError):
    pass


def azurite_version() -> str:
    """The Azurite version pinned in the shipped package.json."""
    manifest = json.loads((MANIFEST_DIR / "package.json").read_text())
    return manifest["devDependencies"]["azurite"]


def azurite_binary(install: bool = True) -> Path:
    """``azurite-blob`` from the cache, installed there first if it is missing."""
    override = os.environ.get("AZML_LOCAL_AZURITE")
    if override:
        path = Path(override)
        if not path.exists():
            raise AzuriteError(f"AZML_LOCAL_AZURITE={override}: no such file")
        return path
    home = cache_dir() / f"azurite-{azurite_version()}"
    binary = home / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists() or not install:
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AzuriteError(
            "Local mode needs Node.js 18+ and npm on PATH to install Azurite (Microsoft's storage "
            "emulator) on first use; install them (e.g. `apt-get install nodejs npm`) or point "
            "AZML_LOCAL_AZURITE at an azurite-blob executable."
        )
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install at a time, across processes
        if not binary.exists():
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(MANIFEST_DIR / name, home / name)
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=home, capture_output=True, text=True,
            )
            if result.returncode != 0 or not binary.exists():
                raise AzuriteError(
                    f"`npm ci` of Azurite {azurite_version()} in {home} failed "
                    f"(exit {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
                )
    return binary


class Azurite:
    """One azurite-blob process over https on 127.0.0.1."""

    def __init__(self, location: Path, cert: Path, key: Path, ca_bundle: Path) -> None:
        self._location, self._cert, self._key, self._bundle = location, cert, key, ca_bundle
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.output: list[str] = []

    def start(self, timeout: float = 60) -> None:
        self._location.mkdir(parents=True, exist_ok=True)
        command = [
            str(azurite_binary()),
            "--blobHost", "127.0.0.1", "--blobPort", "0",  # Azurite prints the port it got
            "--location", str(self._location),
            "--skipApiVersionCheck", "--loose", "--disableTelemetry",
            "--cert", str(self._cert), "--key", str(self._key),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # our signal handler stops it; a terminal ^C must not race
            preexec_fn=die_with_parent(),
        )
        found = threading.Event()

        def pump() -> None:
            assert self._proc and self._proc.stdout
            for line in self._proc.stdout:
                self.output.append(line.rstrip())
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match.group(1))
                    found.set()

        threading.Thread(target=pump, name="azurite-output", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.1):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AzuriteError("Azurite did not start:\n" + "\n".join(self.output))

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/{ACCOUNT}"

    def client(self) -> BlobServiceClient:
        # Direct to 127.0.0.1 (path-style); never through the proxy.
        return BlobServiceClient(
            self.url,
            credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY},
            connection_verify=str(self._bundle),
            proxies={},
        )

    def ensure_container(self, name: str) -> None:
        container = self.client().get_container_client(name)
        if not container.exists():
            container.create_container()

    def container_sas_uri(self, container: str, hours: int = 24) -> str:
        sas = generate_container_sas(
            ACCOUNT,
            container,
            account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(read=True, write=True, list=True, add=True,
                                               create=True),
            expiry=datetime.now(timezone.utc) + timedelta(hours=hours),
        )
        return f"{self.url}/{container}?{sas}"

    def append(self, container: str, blob: str, data: bytes) -> None:
        """Append `data` to an append blob, created on first use (the data collector's
        JSON Lines files).
        """
        from azure.core.exceptions import ResourceExistsError

        client = self.client().get_blob_client(container, blob)
        try:
            client.create_append_blob(if_none_match="*")
        except ResourceExistsError:
            pass
        client.append_block(data)

    def read(self, container: str, blob: str) -> bytes:
        return self.client().get_blob_client(container, blob).download_blob().readall()

    def list(self, container: str, prefix: str) -> list[str]:
        client = self.client().get_container_client(container)
        return [b.name for b in client.list_blobs(name_starts_with=prefix)]

    def download(self, container: str, prefix: str, dest: Path) -> list[Path]:
        """Blobs under `prefix` into `dest`, keeping the path below the prefix."""
        written = []
        prefix = prefix.strip("/")
        for name in self.list(container, prefix):
            if name != prefix and not name.startswith(prefix + "/"):
                continue  # `prefix` must match whole path segments
            relative = name[len(prefix) :].lstrip("/") or os.path.basename(name)
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read(container, name))
            written.append(target)
        return written
