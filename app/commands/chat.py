"""`parley chat`: answer one prompt from the terminal, stored like a window chat."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from app.commands._output import print_json
from app.core.context import AppContext
from app.core.foundation.errors import ParleyError, UnknownTargetError
from app.core.foundation.streams import consume
from app.core.llm.contract import Outcome
from app.core.llm.sampling_defaults import default_sampling
from app.core.llm.targets import LOCAL, Target

if TYPE_CHECKING:
    import argparse
    from types import FrameType

    from app.core.chat.service import TurnResult

EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chat", help="answer a prompt (streams to stdout)")
    p.add_argument("prompt", metavar="PROMPT", help="the message; '-' reads standard input")
    p.add_argument("--backend", default=None, help="backend name (default: local)")
    p.add_argument("--model", default=None, help="model name, or a path to a .gguf file")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--conversation", type=int, metavar="ID", help="continue this conversation")
    group.add_argument("--new", action="store_true", help="start a new conversation (default)")
    p.add_argument("--system", default=None, metavar="TEXT", help="system prompt")
    p.add_argument("--project", default=None, metavar="NAME",
                   help="put the conversation in this project (exact name; billed to it)")
    p.add_argument("--max-tokens", type=int, default=None, metavar="N")
    p.add_argument("--temperature", type=float, default=None, metavar="T")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(handler=run)


def resolve_target(ctx: AppContext, backend: str | None, model: str | None) -> Target:
    """`--backend`/`--model` to a target: the active local model, or a provider's default."""
    name = backend or LOCAL
    if model:
        return Target(name, model)
    if name == LOCAL:
        default = ctx.default_target()
        if default is None:
            raise UnknownTargetError(
                "No local model is installed.",
                "Install the starter model with `parley models install-starter`, "
                "or pass --model PATH.gguf.",
            )
        return default
    default_model = ctx.backends.get(name).default_model
    if not default_model:
        raise UnknownTargetError(f"Backend '{name}' needs --model.")
    return Target(name, default_model)


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise ParleyError("The prompt is empty.", "Pass some text, or '-' to read stdin.")
    ctx = AppContext.open()
    ctx.chat.recover_interrupted()
    target = resolve_target(ctx, args.backend, args.model)
    if args.conversation is not None:
        conv = ctx.store.get(args.conversation)
    else:
        conv = ctx.store.create(target=str(target), sampling=default_sampling(target.model))
    sampling = conv.sampling
    if args.max_tokens is not None:
        sampling = replace(sampling, max_tokens=args.max_tokens)
    if args.temperature is not None:
        sampling = replace(sampling, temperature=args.temperature)
    if sampling != conv.sampling:
        ctx.store.set_sampling(conv.id, sampling)
    if args.system is not None:
        ctx.store.set_system_prompt(conv.id, args.system)
    if args.project is not None:
        ctx.store.set_project(conv.id, args.project)

    cancel = threading.Event()

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        turn = _stream(ctx, conv.id, prompt, target, cancel, echo=not args.json)
    finally:
        signal.signal(signal.SIGINT, previous)
    result = turn.result
    if args.json:
        data = _as_json(turn) | {"project": ctx.store.get(conv.id).project}
        print_json(data, indent=None)
    elif not result.text.endswith("\n"):
        print()
    if result.backend == "local" and (note := ctx.local.runtime_note):
        print(f"parley: note: {note}", file=sys.stderr)
    ctx.close()
    match result.outcome:
        case Outcome.DONE:
            return 0
        case Outcome.STOPPED:
            print("parley: stopped; the partial answer is saved.", file=sys.stderr)
            return EXIT_INTERRUPTED
        case _:
            print(f"parley: {result.error or 'the answer failed.'}", file=sys.stderr)
            return 1


def _stream(
    ctx: AppContext, conversation_id: int, prompt: str, target: Target,
    cancel: threading.Event, *, echo: bool,
) -> TurnResult:  # fmt: skip
    def write(delta: str) -> None:
        if echo:
            sys.stdout.write(delta)
            sys.stdout.flush()

    return consume(ctx.chat.send(conversation_id, prompt, target, cancel), write)


def _as_json(turn: TurnResult) -> dict[str, object]:
    r = turn.result
    return {
        "text": r.text,
        "conversation_id": turn.conversation_id,
        "message_id": turn.message_id,
        "backend": r.backend,
        "provider": r.provider,
        "model": r.model,
        "prompt_tokens": r.usage.prompt_tokens,
        "completion_tokens": r.usage.completion_tokens,
        "token_source": str(r.usage.source),
        "ttft_s": r.ttft_s,
        "duration_s": r.duration_s,
        "tokens_per_second": r.tokens_per_second,
        "outcome": str(r.outcome),
        "error": r.error,
        "trimmed_turns": r.trimmed_turns,
    }
