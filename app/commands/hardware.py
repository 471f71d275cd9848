"""`parley hardware`: what Parley detected (CPU, RAM, GPUs, llama.cpp backend)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.commands._output import print_json

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hardware", help="CPU, RAM, GPUs and the llama.cpp backend Parley found")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=show_hardware)


def show_hardware(args: argparse.Namespace) -> int:
    from app.core.local.hardware import probe, summary_lines

    hw = probe()
    if args.json:
        print_json(hw.to_dict())
        return 0
    for line in summary_lines(hw):
        print(line)
    return 0
