from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from azml_components.local.fixture import LocalAzureML

pytestmark = pytest.mark.timeout(30)


def _connect(standin: LocalAzureML, target: str) -> str:
    proxy = urlsplit(standin.env["HTTPS_PROXY"])
    with socket.create_connection((proxy.hostname, proxy.port), timeout=10) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        return sock.recv(1024).decode().split("\r\n")[0]


def test_proxy_only_reaches_azurite(standin: LocalAzureML) -> None:
    import requests

    metadata = standin.env["ARM_CLOUD_METADATA_URL"]
    clouds = requests.get(metadata, verify=standin.env["REQUESTS_CA_BUNDLE"], timeout=10).json()
    port = int(clouds[0]["suffixes"]["storage"].rsplit(":", 1)[1])  # core.localhost:PORT
    status = _connect(standin, f"devstoreaccount1.blob.core.localhost:{port}")
    assert status == "HTTP/1.1 200 Connection established"
    refused = ("example.com:443", "169.254.169.254:80", "127.0.0.1:22",
               f"devstoreaccount1.blob.core.localhost:{port + 1}")
    for target in refused:
        assert _connect(standin, target) == "HTTP/1.1 403 Forbidden", target
