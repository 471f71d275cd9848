"""Conversations as Markdown, JSON or HTML documents (export, `conversations show`).

JSON is Parley's own format (`FORMAT`), read back by `app.core.chat.importing`;
attachments travel inside it (image bytes as base64). HTML is one standalone
page: Markdown rendered with markdown-it-py (raw HTML in model output is
escaped, never passed through), code highlighted with Pygments.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import TYPE_CHECKING, Any, Literal

from app.core.chat.attachments import IMAGE_MIMES

if TYPE_CHECKING:
    from app.core.chat.attachments import Attachment
    from app.core.chat.conversations import ConversationStore, Message

FORMAT = "parley-conversation"
VERSION = 1
ExportFormat = Literal["md", "json", "html"]
SUFFIXES: dict[str, str] = {"md": ".md", "json": ".json", "html": ".html"}


def conversation_to_json(store: ConversationStore, conversation_id: int) -> dict[str, Any]:
    conv = store.get(conversation_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "id": conv.id,
        "title": conv.title,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "system_prompt": conv.system_prompt,
        "project": conv.project,
        "target": conv.target,
        "messages": [m.to_dict() for m in store.messages(conversation_id)],
    }


def _heading(m: Message) -> str:
    when = dt.datetime.fromtimestamp(m.created_at).strftime("%Y-%m-%d %H:%M")
    if m.role == "user":
        return f"You · {when}"
    return f"{m.model or 'Assistant'} ({m.backend}) · {when} · {m.outcome}"


def _attachment_lines(m: Message) -> list[str]:
    lines: list[str] = []
    for a in m.attachments:
        if a.is_image:
            lines += [f"*Attached image: {a.name}*", ""]
        else:
            lines += [a.fenced(), ""]
    return lines


# A fence opener or closer (CommonMark: up to three spaces, then three or more ` or ~).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def close_fences(text: str) -> str:
    """`text` with a code block left open at its end closed (an answer stopped or cut off
    inside one), so the block can't swallow what follows it in a document."""
    opened: str | None = None
    longest = 0
    for line in text.splitlines():
        match = _FENCE.match(line)
        if opened is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                opened, longest = match.group(1), 0
            continue
        if match and match.group(1)[0] == opened[0] and len(match.group(1)) >= len(opened) \
                and not match.group(2).strip():  # fmt: skip
            opened = None
            continue
        runs = re.findall(re.escape(opened[0]) + "+", line)
        longest = max([longest, *map(len, runs)])
    if opened is None:
        return text
    fence = opened[0] * max(len(opened), longest + 1)
    return text + ("" if text.endswith("\n") else "\n") + fence


def conversation_to_markdown(store: ConversationStore, conversation_id: int) -> str:
    conv = store.get(conversation_id)
    lines = [f"# {conv.title}", ""]
    if conv.system_prompt:
        lines += ["**System:** " + conv.system_prompt, ""]
    for m in store.messages(conversation_id):
        lines.append(f"## {_heading(m)}")
        lines += ["", close_fences(m.content), ""]
        lines += _attachment_lines(m)
        if m.error:
            lines += [f"> {m.error}", ""]
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; }
.msg { border: 1px solid #8884; border-radius: 8px; padding: .2rem 1rem; margin: 1rem 0; }
.user { background: #3b82f614; }
.who { font-size: .85rem; opacity: .7; margin-top: .6rem; }
pre { overflow-x: auto; padding: .6rem; border-radius: 6px; background: #8881; }
table { border-collapse: collapse; } td, th { border: 1px solid #8886; padding: .2rem .5rem; }
.note { opacity: .8; font-style: italic; }
img { max-width: 100%; }
"""


def _attr(value: str) -> str:
    """An attribute value, quoted and escaped whatever it holds."""
    return '"' + html.escape(value, quote=True) + '"'


def _image_html(a: Attachment) -> str:
    # Only allow-listed types go into a data: URL; anything else (stored before imports
    # were checked) is named, never rendered.
    if a.mime not in IMAGE_MIMES:
        return f"<p class=\"note\">Attached image: {html.escape(a.name)}</p>"
    return f"<p><img alt={_attr(a.name)} src={_attr(a.data_url())}></p>"


def conversation_to_html(store: ConversationStore, conversation_id: int) -> str:
    """A standalone HTML page: the same content as the Markdown export, rendered.

    Every attribute is quoted and escaped here; model text goes through markdown-it with
    raw HTML off, so nothing from a conversation becomes markup of its own."""
    from pygments.formatters import HtmlFormatter

    conv = store.get(conversation_id)
    render = _markdown_renderer()
    body = [f"<h1>{html.escape(conv.title)}</h1>"]
    if conv.system_prompt:
        body.append(f"<p class=\"note\">System: {html.escape(conv.system_prompt)}</p>")
    for m in store.messages(conversation_id):
        parts = [f"<div class=\"who\">{html.escape(_heading(m))}</div>",
                 render(close_fences(m.content))]  # fmt: skip
        for a in m.attachments:
            parts.append(_image_html(a) if a.is_image else render(a.fenced()))
        if m.error:
            parts.append(f"<p class=\"note\">{html.escape(m.error)}</p>")
        body.append(f"<div class={_attr('msg ' + m.role)}>{''.join(parts)}</div>")
    css = _CSS + HtmlFormatter(style="default").get_style_defs(".highlight")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(conv.title)}</title><style>{css}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _markdown_renderer() -> Any:
    from markdown_it import MarkdownIt
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    def code(source: str, language: str, _attrs: str) -> str:
        try:
            lexer = get_lexer_by_name(language or "text")
        except ClassNotFound:
            return ""  # markdown-it escapes it as plain code
        return str(highlight(source, lexer, HtmlFormatter(nowrap=False)))

    def image(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # A picture a model links to becomes a link: opening the export must fetch nothing
        # (a remote image is a tracking pixel). The conversation's own images are inlined
        # as data: URLs elsewhere, from the stored bytes.
        from markdown_it.common.utils import escapeHtml

        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = renderer.renderInlineAsText(token.children or [], options, env) or src
        return f'<a href="{escapeHtml(src)}">{escapeHtml(alt)}</a>'

    # "html": False escapes raw HTML in model output instead of passing it through.
    md = MarkdownIt("commonmark", {"html": False, "highlight": code}).enable("table")
    md.add_render_rule("image", image)
    return md.render


def export_conversation(store: ConversationStore, conversation_id: int, fmt: str) -> str:
    """The document for `fmt` ("md", "json" or "html")."""
    import json

    match fmt:
        case "json":
            data = conversation_to_json(store, conversation_id)
            return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        case "html":
            return conversation_to_html(store, conversation_id)
        case _:
            return conversation_to_markdown(store, conversation_id)
