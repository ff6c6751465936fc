from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from azml_local.fixture import LocalAzureML

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


# --- blob faults: tunnels relayed while a fault is armed, byte pipes otherwise ------------------
def _blob_service(standin: LocalAzureML, **kwargs):
    # A plain azure-storage-blob client, addressed as the SDK addresses the workspace's storage
    # (through the proxy, HTTPS_PROXY in os.environ), with its own connection pool.
    import requests
    from azml_local.infra.azurite import ACCOUNT, ACCOUNT_KEY
    from azure.storage.blob import BlobServiceClient

    metadata = standin.env["ARM_CLOUD_METADATA_URL"]
    clouds = requests.get(metadata, verify=standin.env["REQUESTS_CA_BUNDLE"], timeout=10).json()
    suffix = clouds[0]["suffixes"]["storage"]
    return BlobServiceClient(f"https://{ACCOUNT}.blob.{suffix}",
                             credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY},
                             **kwargs)


def _container_with_blob(standin: LocalAzureML, content: bytes):
    from tests.helpers import unique

    container = _blob_service(standin).get_container_client(unique("relay"))
    container.create_container()
    container.upload_blob("dir/a.bin", content)
    return container.container_name


def test_an_armed_blob_fault_answers_as_azure_storage_then_is_used_up(standin) -> None:
    from azure.core.exceptions import HttpResponseError

    content = bytes(range(256)) * 64
    name = _container_with_blob(standin, content)
    standin.clear_requests()
    standin.blob_fault("GET", rf"^/{name}/dir/a\.bin$", status=503, count=1, retry_after=2)
    standin.blob_fault("HEAD", rf"^/{name}/dir/a\.bin$", status=500, count=1)
    blob = _blob_service(standin, retry_total=0).get_blob_client(name, "dir/a.bin")
    with pytest.raises(HttpResponseError) as busy:
        blob.download_blob().readall()
    assert busy.value.status_code == 503 and busy.value.error_code == "ServerBusy"
    assert busy.value.response.headers["Retry-After"] == "2"
    assert "The server is currently unable to receive requests" in str(busy.value)
    with pytest.raises(HttpResponseError) as timed_out:
        blob.get_blob_properties()  # a HEAD: the code comes from x-ms-error-code alone
    assert timed_out.value.status_code == 500
    assert timed_out.value.error_code == "OperationTimedOut"
    assert blob.download_blob().readall() == content  # the faults were used up
    assert blob.get_blob_properties().size == len(content)  # HEAD relayed with its length
    seen = [(r["method"], r["status"]) for r in standin.blob_requests()]
    assert seen[:2] == [("GET", 503), ("HEAD", 500)], seen
    assert ("GET", 206) in seen[2:] or ("GET", 200) in seen[2:], seen


def test_an_unused_blob_fault_passes_other_requests_through_unchanged(standin) -> None:
    # Uploads (PUT with a body) and listings go through a relayed tunnel intact.
    name = _container_with_blob(standin, b"x")
    standin.blob_fault("DELETE", r"^/never-this-container/", status=503)
    container = _blob_service(standin, retry_total=0).get_container_client(name)
    content = b"relayed body\n" * 1000
    container.upload_blob("dir/b.bin", content)
    assert container.download_blob("dir/b.bin").readall() == content
    assert sorted(b.name for b in container.list_blobs(name_starts_with="dir/")) == [
        "dir/a.bin", "dir/b.bin"]
    assert {r["method"] for r in standin.blob_requests()} >= {"PUT", "GET"}


def test_with_no_blob_fault_armed_tunnels_are_not_relayed(standin) -> None:
    name = _container_with_blob(standin, b"piped")
    standin.clear_requests()
    container = _blob_service(standin, retry_total=0).get_container_client(name)
    assert container.download_blob("dir/a.bin").readall() == b"piped"
    assert standin.blob_requests() == []  # the proxy never saw the HTTP inside the tunnel
