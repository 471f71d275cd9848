"""Refuse a GGUF's chat template that reaches for Python objects.

A chat template is Jinja code written by whoever made the file. llama-cpp-python
renders it in Jinja's `ImmutableSandboxedEnvironment`, which stops
`''.__class__.__mro__`-style walks only when the template runs; Parley checks
the template when the model loads, so such a file is refused with a clear
message before any prompt is rendered, and a render that still trips the
sandbox becomes a `ModelError`, not a crash. No chat template in the models
people use names anything that starts with an underscore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.foundation.errors import ModelError

if TYPE_CHECKING:
    from jinja2 import nodes


def _unsafe(node: nodes.Node) -> str | None:
    """What in `node` reaches for Python internals, or None."""
    from jinja2 import nodes

    match node:
        case nodes.Getattr(attr=str(attr)) if attr.startswith("_"):
            return f".{attr}"
        case nodes.Getitem(arg=nodes.Const(value=str(key))) if key.startswith("_"):
            return f"[{key!r}]"
        case nodes.Name(name=str(name)) if name.startswith("_"):
            return name
        case nodes.Filter(name="attr"):
            return "the attr filter"
        case _:
            return None


def refused(source: str, what: str) -> ModelError:
    return ModelError(
        f"{source}'s chat template tries to reach into Python ({what}); Parley won't run it.",
        "Model files can carry code in their chat template: use a model from a source "
        "you trust, or another file of this one.",
    )


def check_chat_template(template: str, source: str) -> None:
    """Raise `ModelError` when `template` is not valid Jinja or reaches for Python objects."""
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        tree = ImmutableSandboxedEnvironment().parse(template)
    except TemplateSyntaxError as exc:
        raise ModelError(
            f"{source}'s chat template is not valid Jinja ({exc.message}, line {exc.lineno}).",
            "Choose another file of this model.",
        ) from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter)):
        if (what := _unsafe(node)) is not None:
            raise refused(source, what)
