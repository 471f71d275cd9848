"""`parley routing show|set`: the policy behind the `auto` target."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from app.commands._output import print_json
from app.core.context import AppContext
from app.core.routing.policy import CLOUD_CHOICES, load_policy, save_policy

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("routing", help="how the 'auto' target picks local or cloud")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    show = verbs.add_parser("show", help="the current policy")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_policy)
    s = verbs.add_parser("set", help="change the policy (only what you pass)")
    s.add_argument("--local-projects", metavar="A,B", help="projects that never leave this machine")
    s.add_argument("--max-cost", type=float, metavar="X",
                   help="the most one cloud request may cost (0 for no limit)")  # fmt: skip
    s.add_argument("--prefer-local-tps", type=float, metavar="N",
                   help="prefer the loaded local model at N tokens/s or more")  # fmt: skip
    s.add_argument("--cloud", choices=CLOUD_CHOICES, help="which provider otherwise")
    s.add_argument("--fallback", metavar="A,B",
                   help="backend names to try in order when a target fails")  # fmt: skip
    s.set_defaults(handler=set_policy)


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def show_policy(args: argparse.Namespace) -> int:
    policy = load_policy(AppContext.open().settings)
    if args.json:
        print_json(policy.to_dict())
        return 0
    limit = "none" if policy.max_request_cost is None else f"{policy.max_request_cost:g}"
    print(f"Kept local:        {', '.join(policy.local_projects) or 'no projects'}")
    print(f"Most per request:  {limit}")
    print(f"Prefer local at:   {policy.prefer_local_min_tps:g} tokens/s or more, when loaded")
    print(f"Otherwise:         the {policy.cloud_choice} provider")
    print(f"Fallback order:    {', '.join(policy.fallback) or 'as ranked'}")
    return 0


def set_policy(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    policy = load_policy(ctx.settings)
    if args.local_projects is not None:
        policy = replace(policy, local_projects=_names(args.local_projects))
    if args.max_cost is not None:
        policy = replace(policy, max_request_cost=args.max_cost or None)
    if args.prefer_local_tps is not None:
        policy = replace(policy, prefer_local_min_tps=args.prefer_local_tps)
    if args.cloud is not None:
        policy = replace(policy, cloud_choice=args.cloud)
    if args.fallback is not None:
        policy = replace(policy, fallback=_names(args.fallback))
    save_policy(ctx.settings, policy)
    print("Routing policy saved.")
    return 0
