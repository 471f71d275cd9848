"""`parley conversations list|show|export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.commands._output import format_time, print_json, print_table
from app.core.chat.export import conversation_to_json, conversation_to_markdown
from app.core.context import AppContext
from app.core.foundation.errors import ParleyError

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("conversations", help="list, show and export conversations")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="conversations, most recent first")
    ls.add_argument("--search", default="", help="match titles and message text")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_conversations)
    show = verbs.add_parser("show", help="every message of one conversation")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_conversation)
    sp = verbs.add_parser("set-project", help="put a conversation in a project (or none)")
    sp.add_argument("id", type=int)
    sp.add_argument("project", metavar="NAME", nargs="?", default=None,
                    help="the project's exact name; leave out to take it out of its project")
    sp.set_defaults(handler=set_project)
    export = verbs.add_parser("export", help="write a conversation as Markdown or JSON")
    export.add_argument("id", type=int)
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE")
    export.set_defaults(handler=export_conversation)


def _open() -> AppContext:
    ctx = AppContext.open()
    ctx.chat.recover_interrupted()
    return ctx


def list_conversations(args: argparse.Namespace) -> int:
    ctx = _open()
    convs = ctx.store.list(args.search)
    if args.json:
        print_json([
            {"id": c.id, "title": c.title, "created_at": c.created_at,
             "updated_at": c.updated_at, "target": c.target, "project": c.project}
            for c in convs
        ])  # fmt: skip
    else:
        print_table(("ID", "UPDATED", "PROJECT", "TITLE"),
                    [(c.id, format_time(c.updated_at), c.project or "", c.title)
                     for c in convs])  # fmt: skip
    return 0


def set_project(args: argparse.Namespace) -> int:
    ctx = _open()
    ctx.store.get(args.id)  # an unknown id fails with its own message
    ctx.store.set_project(args.id, args.project)
    project = ctx.store.get(args.id).project
    where = f"in project {project}" if project else "in no project"
    print(f"Conversation {args.id} is now {where}.", file=sys.stderr)
    return 0


def show_conversation(args: argparse.Namespace) -> int:
    ctx = _open()
    if args.json:
        print_json(conversation_to_json(ctx.store, args.id))
        return 0
    sys.stdout.write(conversation_to_markdown(ctx.store, args.id))
    return 0


def export_conversation(args: argparse.Namespace) -> int:
    ctx = _open()
    if args.format == "json":
        text = json.dumps(conversation_to_json(ctx.store, args.id), ensure_ascii=False, indent=2)
    else:
        text = conversation_to_markdown(ctx.store, args.id)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ParleyError(
            f"Couldn't write {args.output} ({exc.strerror}).", "Choose a folder you can write to."
        ) from exc
    print(f"Wrote {args.output}", file=sys.stderr)
    return 0
