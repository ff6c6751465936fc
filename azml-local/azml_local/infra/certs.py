"""TLS material: a throw-away CA, one leaf for every stand-in server, and a CA bundle."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme

# Azurite is reached as devstoreaccount1.blob.core.localhost (the SDK builds account URLs from the
# cloud's storage suffix), so the leaf also needs the wildcard.
LEAF_NAMES = ("127.0.0.1", "localhost", "*.blob.core.localhost")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path  # leaf certificate chain (PEM)
    key: Path
    bundle: Path  # system CAs + our CA, for REQUESTS_CA_BUNDLE


def _system_bundle() -> str:
    # The machine's bundle (REQUESTS_CA_BUNDLE is often set already) or certifi's.
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        path = os.environ.get(name)
        # Not a stand-in's own bundle (a stand-in started from a shell that applied its env).
        if path and Path(path).is_file() and Path(path).name != "ca-bundle.pem":
            return Path(path).read_text()
    import certifi

    return Path(certifi.where()).read_text()


def make_tls(directory: Path) -> TlsFiles:
    """CA (kept across restarts of the same state dir, so trust survives) and a fresh leaf."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = directory / "ca.pem", directory / "ca.key"
    if ca_cert.exists() and ca_key.exists():
        ca = trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="azml-components stand-in")
        ca.private_key_pem.write_to_path(str(ca_key))
        ca_key.chmod(0o600)
    leaf = ca.issue_cert(*LEAF_NAMES, common_name="127.0.0.1")
    files = TlsFiles(
        ca=directory / "ca.pem",
        cert=directory / "leaf.pem",
        key=directory / "leaf.key",
        bundle=directory / "ca-bundle.pem",
    )
    ca.cert_pem.write_to_path(str(files.ca))
    leaf.private_key_pem.write_to_path(str(files.key))
    files.key.chmod(0o600)
    files.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    system = _system_bundle()
    files.bundle.write_text(system.rstrip("\n") + "\n" + ca.cert_pem.bytes().decode())
    return files
