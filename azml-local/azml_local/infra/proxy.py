"""A CONNECT proxy that makes `<account>.blob.core.localhost:N` reachable.

The SDK builds storage URLs from the cloud's storage suffix (`https://{account}.blob.{suffix}`)
and `*.localhost` does not resolve here, so clients get HTTPS_PROXY pointing at this proxy
(NO_PROXY=127.0.0.1). It forwards only to the Azurite port on 127.0.0.1 and refuses every other
target with 403, so nothing can leave the machine through it.

From the first blob fault a test arms until the faults are cleared, new tunnels are relayed
request by request instead (blob_relay.py), so the fault can answer the request it matches.
"""

from __future__ import annotations

import re
import select
import socket
import socketserver
import threading
from pathlib import Path

from azml_local.infra.blob_relay import BlobFaults, relay

_TARGET = re.compile(r"^[a-z0-9]{3,24}\.blob\.core\.localhost:(\d+)$", re.IGNORECASE)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    disable_nagle_algorithm = True  # relayed writes go on at once (web.py says why)

    def handle(self) -> None:
        line = self.rfile.readline(8192).decode("latin-1").strip()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # headers are not needed
        parts = line.split()
        match = _TARGET.match(parts[1]) if len(parts) == 3 and parts[0] == "CONNECT" else None
        if match is None or int(match.group(1)) not in self.server.allowed_ports:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=10)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        faults = self.server.faults
        tls = self.server.tls
        if faults is not None and tls is not None and faults.relaying_blobs():
            upstream.close()
            relay(self.connection, int(match.group(1)), *tls, faults)
            return
        self._pipe(self.connection, upstream)

    @staticmethod
    def _pipe(client: socket.socket, upstream: socket.socket) -> None:
        upstream.settimeout(None)
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 300)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    allowed_ports: set[int] = set()
    faults: BlobFaults | None = None
    tls: tuple[Path, Path, Path] | None = None  # leaf chain, key, CA


def start_proxy(
    allowed_ports: set[int], port: int = 0, faults: BlobFaults | None = None,
    tls: tuple[Path, Path, Path] | None = None,
) -> socketserver.ThreadingTCPServer:
    """The proxy; with `faults` and `tls` (leaf chain, key, CA) it can relay tunnels to inject
    blob faults.
    """
    server = _Server(("127.0.0.1", port), _Handler)
    server.allowed_ports = allowed_ports
    server.faults, server.tls = faults, tls
    threading.Thread(target=server.serve_forever, name="connect-proxy", daemon=True).start()
    return server
