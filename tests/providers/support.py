"""Helpers for provider tests."""

from __future__ import annotations

import io
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.core.providers import parse_kind

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from app.core.chat.service import TurnResult
    from app.core.context import AppContext
    from app.core.llm.contract import GenerationResult
    from app.core.llm.targets import Target
    from app.core.providers import ProviderConfig

KEY = "sk-parley-test-7f3a9c2e41"
FAST = {
    "connect_timeout_s": 2.0,
    "read_timeout_s": 60.0,  # the shared test machine can be busy
    "retry_backoff_s": 0.02,
    "retry_max_wait_s": 1.0,
}


def add_provider(
    ctx: AppContext, name: str, kind: str, base_url: str, key: str | None = KEY, **options: Any
) -> ProviderConfig:
    model = "smollm2" if kind != "hf" else None
    ctx.providers.add(
        name, parse_kind(kind), base_url=base_url, model=model, options={**FAST, **options}
    )
    if key:
        ctx.providers.set_key(name, key)
    return ctx.providers.get(name)


def tmp_files_text(root: Path) -> str:
    """Every file under root, as text, for "the key appears nowhere" checks."""
    out = []
    for p in root.rglob("*"):
        if p.is_file() and p.suffix != ".gguf":
            out.append(p.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(out)


def drain[T](gen: Generator[str, None, T]) -> tuple[list[str], T]:
    parts: list[str] = []
    while True:
        try:
            parts.append(next(gen))
        except StopIteration as stop:
            return parts, stop.value


def send(ctx: AppContext, conv_id: int, text: str, target: Target) -> TurnResult:
    return drain(ctx.chat.send(conv_id, text, target, threading.Event()))[1]


def new_conversation(ctx: AppContext, target: Target, max_tokens: int = 24) -> int:
    """A conversation with short answers: the tiny CPU model stays fast."""
    conv = ctx.store.create(target=str(target))
    ctx.store.set_sampling(
        conv.id, replace(conv.sampling, max_tokens=max_tokens, context_length=1024)
    )
    return conv.id


def result_of(ctx: AppContext, text: str, target: Target) -> GenerationResult:
    return send(ctx, new_conversation(ctx, target), text, target).result


def run_cli(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    """`parley ARGV` in this process: (exit status, stdout, stderr)."""
    from app import cli

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = cli.main(argv)
    finally:
        sys.stdin, sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()
