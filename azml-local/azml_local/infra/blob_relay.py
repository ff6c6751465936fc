"""A CONNECT tunnel to Azurite relayed as HTTP, request by request, so blob faults can be injected.

The proxy relays new tunnels from the first blob fault a test arms until the faults are cleared
(otherwise tunnels stay byte pipes). It ends the client's TLS with the stand-in's leaf
certificate (which names `*.blob.core.localhost`; clients trust local mode's CA), reads one
HTTP/1.1 request at a time, answers a matching one with the fault and `Connection: close`, and
sends every other request to Azurite over its own TLS connection, re-sending the answer with a
Content-Length.
"""

from __future__ import annotations

import http.client
import ssl
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, Protocol

# Framing headers this relay sets itself (it re-frames every message with a Content-Length).
_FRAMING = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length"}

# How Azure Storage says a partition is over its targets: "Azure Storage begins to return error
# code 503 (Server Busy) or error code 500 (Operation Timeout)" (learn.microsoft.com/azure/storage/
# blobs/scalability-targets); the codes and messages are those of the Storage REST API's
# "Common REST API error codes" (ServerBusy 503, OperationTimedOut 500). A 409 is the Blob
# service's BlobAlreadyExists ("Blob service error codes"), the answer to a Put Blob with
# If-None-Match: * (the SDK's upload without overwrite) when another client wrote the blob first.
# Storage documents no 429 for blobs; any other injected status gets the code InjectedFault.
_STORAGE_ERRORS = {
    503: ("ServerBusy", "The server is currently unable to receive requests. Please retry your "
                        "request."),
    500: ("OperationTimedOut", "The operation could not be completed within the permitted time."),
    409: ("BlobAlreadyExists", "The specified blob already exists."),
}


class BlobFaults(Protocol):
    def relaying_blobs(self) -> bool: ...

    def blob_fault(self, method: str, target: str) -> tuple[int, int | None] | None: ...

    def record_blob(self, method: str, target: str, status: int) -> None: ...


def relay(client, azurite_port: int, cert: Path, key: Path, ca: Path, faults: BlobFaults) -> None:
    """Serve one tunnel (after `200 Connection established`) until either side closes it."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cert), str(key))
    trust = ssl.create_default_context(cafile=str(ca))

    def azurite() -> http.client.HTTPSConnection:
        # A connection per request: Azurite closes idle ones after a few seconds, and a request
        # sent on a closed one would be lost (the client would pay a retry it never caused).
        return http.client.HTTPSConnection("127.0.0.1", azurite_port, timeout=300, context=trust)

    try:
        with tls.wrap_socket(client, server_side=True) as tunnel, tunnel.makefile("rb") as reader:
            while _relay_one(reader, tunnel, azurite, faults):
                pass
    except (OSError, http.client.HTTPException, ValueError):
        return  # a client that went away, or a request this relay cannot read: end the tunnel


def _relay_one(reader: BinaryIO, tunnel, azurite, faults: BlobFaults) -> bool:
    line = reader.readline(65537)
    if not line.strip():
        return False
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = http.client.parse_headers(reader)
    body = _read_body(reader, headers)
    fault = faults.blob_fault(method, target)
    if fault is not None:
        tunnel.sendall(_fault_answer(method, *fault, headers.get("x-ms-version", "")))
        faults.record_blob(method, target, fault[0])
        return False
    upstream = azurite()
    try:
        upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            if name.lower() not in _FRAMING:
                upstream.putheader(name, value)
        if "content-length" in headers or "transfer-encoding" in headers:
            upstream.putheader("Content-Length", str(len(body)))
        upstream.endheaders(body)
        response = upstream.getresponse()
        payload = response.read()  # b"" for HEAD, whose Content-Length describes the blob
    finally:
        upstream.close()
    answer = [f"HTTP/1.1 {response.status} {response.reason}"]
    answer += [f"{k}: {v}" for k, v in response.getheaders()
               if k.lower() not in _FRAMING or (method == "HEAD" and k.lower() == "content-length")]
    if method != "HEAD":
        answer.append(f"Content-Length: {len(payload)}")
    tunnel.sendall("\r\n".join(answer).encode("latin-1") + b"\r\n\r\n" + payload)
    faults.record_blob(method, target, response.status)
    return headers.get("Connection", "").lower() != "close"


def _read_body(reader: BinaryIO, headers: http.client.HTTPMessage) -> bytes:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while size := int(reader.readline(1024).split(b";")[0], 16):
            chunks.append(reader.read(size))
            reader.readline(8)
        while reader.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)
    return reader.read(int(headers.get("Content-Length", 0)))


def _fault_answer(method: str, status: int, retry_after: int | None, version: str) -> bytes:
    code, message = _STORAGE_ERRORS.get(status, ("InjectedFault", f"Injected fault {status}."))
    request_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    # Storage's error body: <Error><Code/><Message/></Error>, the message ending with the
    # request id and time; the code also in x-ms-error-code (HEAD answers carry only that).
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
        f"RequestId:{request_id}\nTime:{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z</Message></Error>"
    ).encode()
    headers = [
        f"HTTP/1.1 {status} {_phrase(status)}",
        f"Content-Length: {len(body)}",
        "Content-Type: application/xml",
        f"x-ms-error-code: {code}",
        f"x-ms-request-id: {request_id}",
        f"Date: {now.strftime('%a, %d %b %Y %H:%M:%S GMT')}",
        "Connection: close",
    ]
    if version:
        headers.append(f"x-ms-version: {version}")
    if retry_after is not None:
        headers.append(f"Retry-After: {retry_after}")
    return "\r\n".join(headers).encode() + b"\r\n\r\n" + (b"" if method == "HEAD" else body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
