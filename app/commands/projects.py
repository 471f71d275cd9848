"""`parley projects list|set`: who a conversation's spend belongs to, and who pays for it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from app.commands._output import print_json, print_table
from app.core.chat.projects import ProjectStore
from app.core.context import AppContext

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("projects", help="projects: conversations, budgets and who pays")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="every project, its conversations and its payer")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_projects)
    st = verbs.add_parser("set", help="set a project's Hugging Face paying organisation")
    st.add_argument("name", metavar="NAME")
    st.add_argument("--hf-bill-to", metavar="ORG", default="",
                    help="HF organisation billed for this project's HF requests "
                         "(X-HF-Bill-To); empty: your own account")  # fmt: skip
    st.set_defaults(handler=set_project)


def list_projects(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    projects = ProjectStore(ctx.db).list()
    if args.json:
        print_json([p.to_dict() for p in projects])
        return 0
    if not projects:
        print("No projects yet. Put a conversation in one with "
              "`parley conversations set-project ID NAME`.", file=sys.stderr)  # fmt: skip
        return 0
    print_table(("PROJECT", "CONVERSATIONS", "HF BILL TO"),
                [(p.name, p.conversations, p.hf_bill_to or "") for p in projects])  # fmt: skip
    return 0


def set_project(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    project = ProjectStore(ctx.db).set_bill_to(args.name, args.hf_bill_to)
    payer = project.hf_bill_to or "your own Hugging Face account"
    print(f"Project {project.name}: Hugging Face requests are billed to {payer}.",
          file=sys.stderr)  # fmt: skip
    return 0
