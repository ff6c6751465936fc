"""A tiny https JSON server on the standard library: requests, responses, errors, routing."""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class ApiError(Exception):
    """An error answered the way ARM does: {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"error": {"code": self.code, "message": self.message}}
        return Response(self.status, body, self.headers)


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, "ResourceNotFound", f"{kind} '{name}' could not be found.")


def bad_request(message: str, code: str = "UserError") -> ApiError:
    return ApiError(400, code, message)


class Query(Mapping[str, str]):
    """A request's query parameters, names matched case-insensitively, values kept as sent.

    ARM relays the query to the resource provider as is ("ARM will proxy request parameters ...
    as-is to the Resource Providers. It will not delete, modify or add any query parameters",
    azure-resource-manager-rpc v1.0/common-api-details.md, "Request Query Parameters"), so the
    names are the provider's to match; they are matched here without regard to case, as an
    ASP.NET Core service's query collection does (StringComparer.OrdinalIgnoreCase): `$orderBy`
    and `$orderby`, `listViewType` and `listviewtype` are one parameter (not confirmed against
    the live service; azure-ai-ml always sends the spec's spelling: `listViewType`, `$orderBy`,
    `$top`, `hash`, `isDefault`, `api-version`). Values are never folded: the REST API spec's
    enum ListViewType is `ActiveOnly`, `ArchivedOnly`, `All`.
    Handlers look names up as the spec spells them: `request.query.get("listViewType")`.
    """

    def __init__(self, pairs: list[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs or []:
            # A repeated name: ASP.NET Core binds a single value from the first one
            # (ValueProviderResult.FirstValue).
            self._items.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Query({list(self._items.values())!r})"


@dataclass
class Request:
    method: str
    path: str
    query: Query  # names case-insensitive ($orderBy == $orderby), values as sent
    headers: Message
    body: bytes
    base_url: str
    params: dict[str, str] = field(default_factory=dict)
    raw_query: str = ""  # the query string as sent (a forwarded request passes it on unchanged)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes -> as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            return self.body, headers
        if self.body is None:
            return b"", headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode(), headers


Handler = Callable[[Request], Response]


class Router:
    """Routes `GET /a/{name}/b` patterns, case-insensitively as ARM does."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(regex + "/?$", re.IGNORECASE), handler))

    def resolve(self, request: Request) -> Handler:
        allowed = False
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match:
                if method == request.method:
                    request.params = match.groupdict()
                    return handler
                allowed = True
        if allowed:
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported here.")
        raise ApiError(404, "NotFound", f"No route for {request.method} {request.path}.")


def serve(
    app: Callable[[Request], Response], port: int, cert: Path, key: Path
) -> ThreadingHTTPServer:
    """Start an https server on 127.0.0.1 in a daemon thread."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses connections
        # TCP_NODELAY: the headers and the body go out as two writes; with Nagle's algorithm the
        # body waits for the client's (delayed, up to 40 ms) ACK of the headers, on every call.
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
            query = Query(parse_qsl(parts.query, keep_blank_values=True))
            request = Request(
                self.command, parts.path, query, self.headers, body, f"https://{host}",
                raw_query=parts.query,
            )
            try:
                response = app(request)
            except ApiError as exc:
                response = exc.response()
            except Exception as exc:  # a stand-in bug: answer like a service would
                import traceback

                traceback.print_exc()
                response = ApiError(500, "InternalServerError", repr(exc)).response()
            data, headers = response.encode()
            self.send_response(response.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", threading.current_thread().name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:  # quiet; we keep our own log
            pass

    class _Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, addr = super().get_request()
            return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
            pass  # clients hanging up mid-request are not our problem

    server = _Server(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, name="https", daemon=True).start()
    return server
