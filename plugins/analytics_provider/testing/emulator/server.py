"""HTTP serving: keep-alive server, auth, latency, rate limit, faults, stats; :class:`Emulator`."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import control, v3
from .config import EmulatorConfig
from .fault_bodies import apply_body_fault, fault_response
from .faults import SHORT_CIRCUIT, FaultInjector, Fired, parse_faults
from .metering import RateLimiter, Stats
from .pagination import PageTokens
from .routes import JSON, Api, Request, Response, Route, error, match
from .state import EmulatorState
from .usage_export import DOWNLOAD_PREFIX

log = logging.getLogger(__name__)

UNAUTHORIZED = {"message": "You must log in first."}
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class EmulatorApp:
    """Everything behind the socket: state, API, knobs and accounting. Thread-safe."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.state = EmulatorState(config.seed, config.days, config.now_ms(), config.scale)
        self.state.v11_branches, self.state.v11_sunset = config.v11_branches, config.v11_sunset
        self.api = Api(self.state, PageTokens(f"emulator:{config.seed}"))
        self.faults = FaultInjector(parse_faults(config.faults, config.seed))
        self.limiter = RateLimiter(config.rate_limit)
        self.latency_ms = float(config.latency_ms)
        self.stats = Stats()

    def set_faults(self, spec: str | dict[str, Any] | None) -> dict[str, Any]:
        config = parse_faults(spec, self.config.seed)
        self.faults.configure(config)
        return config.to_json()

    def authorized(self, req: Request) -> bool:
        key = self.config.api_key
        candidates = [
            req.headers.get(self.config.auth_header),
            req.headers.get("Circle-Token"),
            req.arg(self.config.auth_header),
            req.arg("circle-token"),
        ]
        auth = req.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            candidates.append(auth[7:].strip())
        return key in candidates

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes = b"") -> tuple[Response, list[Fired]]:
        """Answer one request. Faults that act on the connection are returned for the caller."""
        url = urlsplit(raw_path)
        path = unquote(url.path)
        if len(path) > 1:
            path = path.rstrip("/")
        query = parse_qs(url.query, keep_blank_values=True)
        if path.startswith("/_emulator/") or path == "/_emulator":
            return control.handle(self, Request(method, path, {}, query, headers, body)), []
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        if path.startswith(DOWNLOAD_PREFIX):
            return self._download(method, path, query, headers), []
        route, params = match(path)
        req = Request(method, path, params or {}, query, headers, body)
        template = f"{method} {route.template if route else '<unmatched>'}"
        response, fired = self._respond(route, req, raw_path)
        self.stats.record(template, response.status, [f.rule.kind for f in fired])
        return response, fired

    def _download(self, method: str, path: str, query: dict[str, list[str]], headers: Any) -> Response:
        """A pre-signed usage export file: no API key (the URL is the credential), not faulted."""
        req = Request(method, path, {}, query, headers)
        status, data, content_type = self.api.usage.download(path, query, carries_key=self.authorized(req))
        self.stats.record(f"{method} {DOWNLOAD_PREFIX}{{file}}", status, [])
        return Response(status, data, content_type=content_type)

    def _respond(self, route: Route | None, req: Request, raw_path: str) -> tuple[Response, list[Fired]]:
        on_v3 = v3.is_v3(req.path)
        if on_v3 and self.config.server:
            return error(404, "Not found."), []  # CircleCI Server serves no API v3
        if not self.authorized(req):
            return Response(401, UNAUTHORIZED), []
        if on_v3 and route is not None:
            refused = v3.refuse_query_token(req, (self.config.auth_header, "Circle-Token", "circle-token"))
            if refused is not None:
                return refused, []
        allowed, limit_headers = self.limiter.acquire()
        if on_v3:
            limit_headers = v3.standard_limit_headers(limit_headers)
        if not allowed:
            return Response(429, {"message": "Rate limit exceeded."}, headers=limit_headers), []
        token = req.arg("page[cursor]" if on_v3 else "page-token")
        fired = self.faults.plan(
            f"{req.method} {raw_path}",
            req.path,
            paginated=bool(route and route.paginated),
            child_list=bool(route and route.child_list),
            has_token=bool(token),
        )
        for f in fired:
            if f.rule.kind in SHORT_CIRCUIT:
                return fault_response(f, limit_headers), [f]
        if route is None:
            return error(404, "Not found."), []
        if req.method not in route.methods:
            return error(405, f"Method {req.method} not allowed."), []
        response = route.handler(self.api, req)
        response.headers.update(limit_headers)
        applied = [f for f in fired if apply_body_fault(f, response, token)]
        return response, applied


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response, fired = self.server.app.handle(self.command, self.path, self.headers, body)
        kinds = {f.rule.kind: f for f in fired}
        if "reset" in kinds:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if "slow" in kinds:
            time.sleep(kinds["slow"].rule.delay_ms / 1000)
        if response.content_type == JSON:
            data = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False).encode()
        else:
            data = response.body
        if "truncate" in kinds and len(data) > 2:
            data = data[: max(1, len(data) // 2)]
        head = [
            f"{self.protocol_version} {response.status} {_REASONS.get(response.status, '')}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(data)}",
            f"Date: {self.date_time_string()}",
        ]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        # One write per response: with TCP_NODELAY, separate header and body writes cost a packet each.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # Without this, keep-alive requests stall ~40 ms (Nagle + delayed ACK).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End kept-alive connections, so that a stopped emulator answers nobody."""
        with self._open_lock:
            open_ = list(self._open)
        for sock in open_:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Emulator:
    """The emulator in this process: ``with Emulator(EmulatorConfig(seed=7)) as emu: ...``.

    :param config: knobs; defaults to :class:`EmulatorConfig` ().
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.app = EmulatorApp(self.config)
        self.state = self.app.state
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (still known after :meth:`stop`)."""
        if self._port is None:
            raise RuntimeError("the emulator was never started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> Emulator:
        if self._server is None:
            self._server = _Server((self.config.host, self.config.port), self.app)
            self._port = int(self._server.server_address[1])
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"emulator-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the control operations, in process ---------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        self.app.stats.reset()

    def truth(self, resource: str, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        return self.state.truth(resource, since, until)

    def set_faults(self, spec: str | dict[str, Any] | None) -> dict[str, Any]:
        return self.app.set_faults(spec)

    def set_latency(self, latency_ms: float) -> None:
        self.app.latency_ms = float(latency_ms)

    def set_rate_limit(self, rate: float, counts: bool = True) -> None:
        """`rate` requests a second (0: no limit); `counts`: answers say how much of it is left."""
        self.app.limiter.configure(rate, counts)
