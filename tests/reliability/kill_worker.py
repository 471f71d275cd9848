"""A process that writes to a data dir through Parley's core, to be `kill -9`ed at random.

`python -m tests.reliability.kill_worker SCENARIO DATA_DIR [ARG]` prints `READY`,
then one `ACK <value>` line after each write that has returned (so is
committed); the test kills it at a random moment and checks, after a
restart, that every acknowledged write is there.

Scenarios:
    ledger      usage rows (Ledger.record), ACK <row id>
    settings    a settings value counting up, ACK <value>
    answer      an answer's checkpoints growing (what generation writes), ACK <length>
    migrate     open (and so migrate) an old database, ACK migrated
    download    download ARG (repo:file) from HF_ENDPOINT, ACK <bytes on disk>
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path


def ack(value: object) -> None:
    sys.stdout.write(f"ACK {value}\n")
    sys.stdout.flush()


def ready() -> None:
    sys.stdout.write("READY\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    scenario, root = argv[0], Path(argv[1])
    from app.core.context import AppContext

    if scenario == "migrate":
        ready()
        ctx = AppContext.open(root)
        ack("migrated")
        ctx.close()
        return
    ctx = AppContext.open(root)
    if scenario == "ledger":
        from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage

        result = GenerationResult(
            text="", outcome=Outcome.DONE, usage=Usage(120, 80, TokenSource.COUNTED),
            backend="fault", provider="example", model="m", ttft_s=0.1, duration_s=0.4,
        )  # fmt: skip
        # Pricing loads its price data on first use (about a second): before the kills come.
        ctx.ledger.costing(result, None)
    if scenario == "answer":
        conv = ctx.store.create()
        ctx.store.add_user_message(conv.id, "Tell me a long story.")
        answer_started = ctx.store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    if scenario != "download":
        ready()
    match scenario:
        case "ledger":
            while True:
                ack(ctx.ledger.record(result, conversation_id=None, message_id=None))
        case "settings":
            value = int(ctx.settings.get("reliability.counter", 0))
            while True:
                value += 1
                ctx.settings.set("reliability.counter", value)
                ack(value)
        case "answer":
            msg = answer_started  # the kills come while its checkpoints are written
            text = ""
            while True:
                text += f"word{len(text)} "
                ctx.store.checkpoint(msg.id, text, len(text) // 6)
                ack(len(text))
        case "download":
            from app.core.local import hub
            from app.core.local.downloads.transfer import download_model, partial_path

            repo, _, filename = argv[2].partition(":")
            model = hub.find_model(repo, filename)
            part = partial_path(ctx.catalog.models_dir, repo, "main", filename)
            ready()  # the kills come while bytes move

            def progress(done: int, total: int) -> None:
                if part.exists():
                    ack(part.stat().st_size)

            download_model(model, ctx.catalog.models_dir, threading.Event(), progress)
            ack("done")
        case _:
            raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main(sys.argv[1:])
