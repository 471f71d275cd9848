"""`parley serve`: the OpenAI-compatible gateway; `parley serve token`: its access token."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

from app.commands._output import format_time, print_json, print_table
from app.core.context import AppContext
from app.core.foundation.errors import ParleyError
from app.core.gateway.server import DEFAULT_HOST, DEFAULT_PORT, GatewayServer
from app.core.providers._config import is_loopback_host

if TYPE_CHECKING:
    import argparse
    from types import FrameType


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve", help="serve an OpenAI-compatible API that routes, bills and keeps the keys"
    )
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests addressed to this host name (repeatable); "
                        "IP addresses and localhost always work")  # fmt: skip
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="with --tls-cert: its private key (PEM)")
    p.set_defaults(handler=serve)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    token = verbs.add_parser("token", help="print the access token (created on first use)")
    token.add_argument("--new", metavar="LABEL",
                       help="create another token for a client called LABEL")  # fmt: skip
    token.add_argument("--project", metavar="NAME",
                       help="with --new: the project its requests bill to")  # fmt: skip
    token.add_argument("--list", action="store_true", help="list tokens (never their secrets)")
    token.add_argument("--revoke", type=int, metavar="ID", help="revoke a token for good")
    token.add_argument("--json", action="store_true", help="with --list: JSON")
    token.set_defaults(handler=token_command)


def _port(text: str) -> int:
    import argparse

    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use a number from 1 to 65535")
    return port


def serve(args: argparse.Namespace) -> int:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ParleyError("HTTPS needs both --tls-cert and --tls-key.",
                          "Give the certificate and its private key, as PEM files.")  # fmt: skip
    ctx = AppContext.open()
    try:
        server = GatewayServer(ctx.gateway, ctx.access_tokens, args.host, args.port,
                               allowed_hosts=tuple(args.allow_host), tls_cert=args.tls_cert,
                               tls_key=args.tls_key)  # fmt: skip
        if is_loopback_host(args.host) and not ctx.access_tokens.any_active():
            ctx.access_tokens.default()  # created on first use; a LAN bind needs one made first

        def ready() -> None:
            print(f"Parley gateway on {server.address}", flush=True)
            print("Clients send 'Authorization: Bearer <token>'; `parley serve token` prints it. "
                  "Ctrl+C stops.", file=sys.stderr, flush=True)  # fmt: skip
            if server.exposed and not server.tls_cert:
                print(f"Warning: {args.host} is reachable from the network, and this is plain "
                      "HTTP: the access token and every prompt and answer travel in clear. "
                      "Use --tls-cert/--tls-key, or keep the default 127.0.0.1.",
                      file=sys.stderr, flush=True)  # fmt: skip

        # uvicorn stops on SIGTERM, then re-raises it: end cleanly, as after Ctrl+C.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        server.serve(on_ready=ready)
    finally:
        ctx.close()
    return 0


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def token_command(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    tokens = ctx.access_tokens
    if args.revoke is not None:
        tokens.revoke(args.revoke)
        print(f"Revoked token {args.revoke}; clients using it now get HTTP 401.", file=sys.stderr)
        return 0
    if args.list:
        listed = tokens.list(include_revoked=True)
        if args.json:
            print_json([t.to_dict() for t in listed])
            return 0
        print_table(
            ["ID", "LABEL", "PROJECT", "CREATED", "STATE"],
            [[t.id, t.label, t.project or "", format_time(t.created_at),
              "active" if t.active else "revoked"] for t in listed],
        )  # fmt: skip
        return 0
    if args.new:
        _token, secret = tokens.create(args.new, args.project)
    else:
        _token, secret = tokens.default()
    print(secret)
    return 0
