"""The gateway over HTTP: Starlette routes on uvicorn, in a thread of the app or the CLI.

Each request's generation runs on a thread of its own (llama.cpp and httpx
block); its text reaches the event loop through `_Pipe`, which wakes the loop
once per burst of deltas rather than once per delta, and leaves as SSE events
written together. The HTTP status waits for the first token, so a failure
before it (unknown model, refused budget, provider down) is a real HTTP error
a client's retry logic can read. A client that disconnects sets the request's
cancel flag: generation stops and the ledger row says `stopped`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ParleyError
from app.core.foundation.text_fold import plain_name
from app.core.gateway.connections import (
    HEAD_TIMEOUT_S,
    connection_cap,
    guarded_protocol,
    host_allowed,
)
from app.core.gateway.errors import bug_error
from app.core.gateway.openai_api import (
    DONE_EVENT,
    ApiError,
    ChunkWriter,
    completion_body,
    error_event,
    parse_request,
    usage_body,
)
from app.core.gateway.service import Caller, Finished, MidStreamError
from app.core.providers._config import is_loopback_host

if TYPE_CHECKING:
    from collections.abc import Callable

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

    from app.core.gateway.service import Gateway, GatewayCall
    from app.core.gateway.tokens import AccessTokens

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 16 * 1024 * 1024
SWITCH_INTERVAL_S = 0.0005
BURST_S = 0.001
FIRST_WAIT_S = 0.02  # longest a generating thread waits for the loop to send the first text
CLIENT_HEADER = "x-parley-client"
PROJECT_HEADER = "x-parley-project"
_END = object()


class GatewayError(ParleyError):
    """The gateway can't start: the port is taken, or a LAN bind has no access token."""


class _Pipe:
    """Worker thread → event loop, one wake-up per burst of items.

    When items come faster than one a millisecond (a provider that sends a whole
    answer at once), `take` waits a millisecond to gather the burst: one write
    instead of one per delta. A slower stream goes out item by item, unchanged.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: deque[Any] = deque()
        self._scheduled = False
        self._event = asyncio.Event()
        self._last_take = 0.0
        self.started = threading.Event()  # the loop sent the first text (or never will)

    def put(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._event.set)
        if not self.started.is_set() and isinstance(item, str):
            # Time to first token: a generating thread holds the GIL but for short slices,
            # so the loop would start the response at half speed; wait while it does.
            self.started.wait(FIRST_WAIT_S)

    def _drain(self) -> list[Any]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._scheduled = False
        self._event.clear()
        return items

    async def take(self) -> list[Any]:
        while not (items := self._drain()):
            await self._event.wait()
        now = time.monotonic()
        burst, self._last_take = now - self._last_take < BURST_S, now
        if burst and isinstance(items[-1], str):
            await asyncio.sleep(BURST_S)
            items += self._drain()
        return items


def _caller(request: Request, tokens: AccessTokens) -> Caller:
    auth = request.headers.get("authorization", "")
    scheme, _, secret = auth.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "This Parley gateway needs an access token: send "
                       "'Authorization: Bearer <token>'. `parley serve token` prints it.",
                       code="missing_api_key")  # fmt: skip
    token = tokens.verify(secret.strip())
    if token is None:
        raise ApiError(401, "The access token is wrong or was revoked. `parley serve token` "
                       "prints the current one.", code="invalid_api_key")  # fmt: skip
    client = _utf8_header(request, CLIENT_HEADER) or token.label
    # A token bound to a project bills that project whatever the headers say; only an
    # unbound token may choose one.
    project = token.project or _utf8_header(request, PROJECT_HEADER) or None
    return Caller(client, project)


def _utf8_header(request: Request, name: str) -> str:
    """A header's value as UTF-8 text (HTTP hands it over as bytes; Starlette reads them
    as Latin-1), at most 64 characters; raise 400 when it is not valid UTF-8."""
    raw = request.headers.get(name, "")
    try:
        value = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise ApiError(400, f"The {name} header is not valid UTF-8 text. Send its value "
                       "encoded as UTF-8 (for example 'Société' as its UTF-8 bytes).",
                       code="invalid_header", param=name) from None  # fmt: skip
    return plain_name(value)[:64]  # no escape sequences or invisible characters


def _check_host(request: Request, allowed: frozenset[str]) -> None:
    if not host_allowed(request.headers.get("host"), allowed):
        raise ApiError(403, "This gateway answers only requests addressed to this machine "
                       "(127.0.0.1, localhost or an IP address): a web page under another name "
                       "may not use it. `parley serve --allow-host NAME` allows a name.",
                       "permission_error", "host_not_allowed")  # fmt: skip


async def _bounded_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes `MAX_BODY_BYTES` (never read whole)."""
    too_big = ApiError(413, f"The request is larger than {MAX_BODY_BYTES // 2**20} MB.",
                       code="request_too_large")  # fmt: skip
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _error_response(error: ApiError) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _parley_fields(finished: Finished) -> dict[str, Any]:
    r = finished.result
    return {"backend": r.backend, "provider": r.provider, "cost": finished.cost,
            "currency": finished.currency, "token_source": str(r.usage.source),
            "route": r.route, "usage_id": finished.usage_id}  # fmt: skip


class _SSEResponse:
    """An ASGI response that streams one exchange and watches for the client leaving."""

    def __init__(self, pipe: _Pipe, first: list[Any], model: str, include_usage: bool,
                 cancel: threading.Event, watcher: asyncio.Future[None]) -> None:  # fmt: skip
        self.watcher = watcher
        self.pipe = pipe
        self.first = first
        self.writer = ChunkWriter(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model)
        self.include_usage = include_usage
        self.cancel = cancel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]})  # fmt: skip
            head = [self.writer.role()]
            items = self.first
            while True:
                body, ended = self._events(items)
                if head:
                    body, head = b"".join(head) + body, []
                await send({"type": "http.response.body", "body": body, "more_body": not ended})
                self.pipe.started.set()
                if ended:
                    return
                items = await self.pipe.take()
        except OSError:
            self.cancel.set()  # the client is gone
        finally:
            self.pipe.started.set()
            self.watcher.cancel()
            if not self.cancel.is_set():
                self.cancel.set()  # stops a generation still running after an error above

    def _events(self, items: list[Any]) -> tuple[bytes, bool]:
        out: list[bytes] = []
        for item in items:
            if isinstance(item, str):
                out.append(self.writer.content(item))
            elif isinstance(item, Finished):
                out.append(self.writer.finish(item.finish_reason))
                if self.include_usage:
                    u = item.result.usage
                    out.append(self.writer.usage(usage_body(u.prompt_tokens, u.completion_tokens),
                                                 _parley_fields(item)))  # fmt: skip
                out.append(DONE_EVENT)
                return b"".join(out), True
            else:  # MidStreamError or a bug after the first token
                error = item.error if isinstance(item, MidStreamError) else bug_error()
                out.append(error_event(error))
                return b"".join(out), True
        return b"".join(out), False


async def _watch_disconnect(receive: Receive, cancel: threading.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancel.set()
            return


def build_app(
    gateway: Gateway, tokens: AccessTokens, allowed_hosts: frozenset[str] = frozenset()
) -> Starlette:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def models(request: Request) -> Response:
        try:
            _check_host(request, allowed_hosts)
            _caller(request, tokens)
        except ApiError as error:
            return _error_response(error)
        created = int(time.time())
        data = [{"id": i, "object": "model", "created": created, "owned_by": owner}
                for i, owner in gateway.model_ids()]  # fmt: skip
        return JSONResponse({"object": "list", "data": data})

    async def completions(request: Request) -> Any:
        try:
            _check_host(request, allowed_hosts)
            caller = _caller(request, tokens)
            req = parse_request(await _bounded_body(request))
        except ApiError as error:
            return _error_response(error)
        cancel = threading.Event()
        pipe = _Pipe(asyncio.get_running_loop())
        threading.Thread(target=_work, args=(gateway, req, caller, cancel, pipe),
                         name="gateway-request", daemon=True).start()  # fmt: skip
        # Whoever leaves first: the client (cancel the generation) or the answer.
        watcher = asyncio.ensure_future(_watch_disconnect(request.receive, cancel))
        try:
            first = await pipe.take()
            if req.stream and not isinstance(first[0], ApiError):
                return _SSEResponse(pipe, first, req.model, req.include_usage, cancel, watcher)
            pipe.started.set()  # nothing goes out before the whole answer
            return await _collect(pipe, first, req.model)
        except asyncio.CancelledError:
            pipe.started.set()
            cancel.set()
            raise
        finally:
            if not req.stream:
                watcher.cancel()

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error_response(ApiError(status, f"{request.method} {request.url.path} is not "
                                        "an endpoint of this gateway.", code="not_found"))

    return Starlette(
        routes=[Route("/v1/models", models, methods=["GET"]),
                Route("/v1/chat/completions", completions, methods=["POST"])],
        exception_handlers={404: not_found, 405: not_found},
    )  # fmt: skip


def _work(gateway: Gateway, req: Any, caller: Caller, cancel: threading.Event,
          pipe: _Pipe) -> None:  # fmt: skip
    try:
        exchange: GatewayCall = gateway.open(req, caller, cancel)
    except ApiError as error:
        pipe.put(error)
        return
    except Exception:
        logger.exception("gateway request failed before it started")
        pipe.put(bug_error())
        return
    try:
        pipe.put(exchange.run(pipe.put))
    except ApiError as error:
        pipe.put(error)
    except MidStreamError as error:
        pipe.put(error)
    except Exception as exc:  # noqa: BLE001 - logged by the exchange; the client gets a 500
        pipe.put(exc)


async def _collect(pipe: _Pipe, items: list[Any], model: str) -> Any:
    from starlette.responses import JSONResponse

    parts: list[str] = []
    while True:
        for item in items:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, Finished):
                u = item.result.usage
                return JSONResponse(completion_body(
                    f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model, "".join(parts),
                    item.finish_reason, usage_body(u.prompt_tokens, u.completion_tokens),
                    _parley_fields(item)))  # fmt: skip
            elif isinstance(item, MidStreamError):
                return _error_response(item.error)
            elif isinstance(item, ApiError):
                return _error_response(item)
            else:
                return _error_response(bug_error())
        items = await pipe.take()


class GatewayServer:
    """`parley serve` and the window's switch: uvicorn on a socket bound up front.

    Binding first turns "port in use" into a clear `GatewayError` instead of
    uvicorn's exit. `start()` runs it on a thread; `serve()` on this thread,
    until Ctrl+C or SIGTERM.
    """

    def __init__(
        self, gateway: Gateway, tokens: AccessTokens, host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT, *, allowed_hosts: tuple[str, ...] = (),
        tls_cert: str | None = None, tls_key: str | None = None,
        max_connections: int | None = None, head_timeout_s: float = HEAD_TIMEOUT_S,
    ) -> None:  # fmt: skip
        self.gateway = gateway
        self.tokens = tokens
        self.host = host
        self.port = port
        self.allowed_hosts = frozenset(h.strip().lower() for h in allowed_hosts if h.strip())
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.max_connections = max_connections or connection_cap()
        self.head_timeout_s = head_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}/v1"

    @property
    def exposed(self) -> bool:
        """Listening beyond this machine."""
        return not is_loopback_host(self.host)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _prepare(self) -> tuple[uvicorn.Server, socket.socket]:
        if not is_loopback_host(self.host) and not self.tokens.any_active():
            raise GatewayError(
                f"Parley won't listen on {self.host} without an access token: anyone on the "
                "network could use your providers and budget.",
                "Create one first with `parley serve token`, or keep the default 127.0.0.1.",
            )
        import uvicorn

        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        # log_config=None: uvicorn must not reconfigure logging (it closed Parley's log file).
        config = uvicorn.Config(
            build_app(self.gateway, self.tokens, self.allowed_hosts), log_config=None,
            log_level="warning", access_log=False, lifespan="off", ws="none",
            http=guarded_protocol(self.max_connections, self.head_timeout_s),
            ssl_certfile=self.tls_cert, ssl_keyfile=self.tls_key,
        )  # fmt: skip
        return uvicorn.Server(config), sock

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        server, sock = self._prepare()
        # Generation threads hold the GIL for Python's default 5 ms slices while the event
        # loop waits to write what they made: a finer slice lets their text out at once.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._server = server
        if on_ready is not None:
            threading.Thread(target=self._when_started, args=(server, on_ready),
                             daemon=True).start()  # fmt: skip
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    def start(self, timeout_s: float = 10.0) -> None:
        server, sock = self._prepare()
        self._server = server
        self._thread = threading.Thread(target=self._run, args=(server, sock),
                                        name="gateway-server", daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise GatewayError(f"The gateway on {self.address} did not start.",
                                   "See Parley's log for why.")  # fmt: skip
            time.sleep(0.01)  # polling uvicorn's own started flag

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    @staticmethod
    def _run(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    @staticmethod
    def _when_started(server: uvicorn.Server, on_ready: Callable[[], None]) -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started:
            on_ready()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every request after the first on a kept-alive connection waited
    # ~40 ms (Nagle's algorithm meeting the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GatewayError(
            f"Parley can't listen on {host}:{port} ({exc.strerror or exc}).",
            "Another program may be using that port: pick another with --port.",
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock

