"""Hostile files in and out (issue 22): imports that try to smuggle markup into an HTML
export, break the store or keep half a conversation, and answers cut inside a code block.

An export is checked by parsing it (html.parser): no element may carry an on* handler, no
<script> may appear, and no URL may use javascript:. An import is all or nothing, and a
refusal says what is wrong and where.
"""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest

from app.core.chat.attachments import MAX_IMAGE_BYTES, MAX_TEXT_CHARS
from app.core.chat.conversations import ConversationStore
from app.core.chat.export import close_fences, conversation_to_markdown, export_conversation
from app.core.chat.importing import ImportFormatError, import_file
from app.core.schema import open_database
from tests.helpers.files import write_png

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.reliability("text")]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

# OWASP XSS filter-evasion cheat sheet, the shapes that reach an HTML page through text.
XSS = [
    "<script>alert(document.domain)</script>",
    "<SCRIPT SRC=//xss.example/x.js></SCRIPT>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>",
    "<svg/onload=alert(1)>",
    "<BODY ONLOAD=alert('XSS')>",
    "' onerror='alert(document.domain)//",
    '" onerror="alert(document.domain)//',
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<iframe src=javascript:alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
]


class _Audit(HTMLParser):
    """Every element, attribute and URL of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "svg", "body") and tag != "body":
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            url = re.sub(r"[\s\x00-\x1f]", "", (value or "")).lower()
            if name in ("href", "src", "action", "style") and "javascript:" in url:
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "src" and url.startswith("data:") and not re.match(
                r"data:image/(png|jpeg|gif|webp);base64,[a-z0-9+/=]*$", url
            ):
                self.problems.append(f"<{tag} src=data:{url[5:40]}…>")


def _audit(page: str) -> list[str]:
    audit = _Audit()
    audit.feed(page)
    audit.close()
    return audit.problems


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(open_database(tmp_path / "c.sqlite3"))


def _write(tmp_path: Path, data: Any, name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _parley(messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"format": "parley-conversation", "version": 1, "title": "T", "messages": messages,
            **fields}  # fmt: skip


def _image_part(mime: str, data: bytes = PNG) -> dict[str, Any]:
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def test_html_export_of_hostile_imports_holds_no_live_markup(
    tmp_path: Path, store: ConversationStore, tally: Tally
) -> None:
    for n, evil in enumerate(XSS):
        attachment = {"kind": "image", "name": evil, "mime": f"image/png{evil}",
                      "data": base64.b64encode(PNG).decode()}  # fmt: skip
        parley = _parley(
            [{"role": "user", "content": evil, "attachments": [attachment,
              {"kind": "text", "name": evil, "text": evil, "language": evil}]},
             {"role": "assistant", "content": evil, "model": evil, "backend": evil,
              "error": evil}],
            title=evil, system_prompt=evil,
        )  # fmt: skip
        openai = {"title": evil, "messages": [
            {"role": "user", "content": [{"type": "text", "text": evil},
                                         _image_part(f"image/png{evil}")]},
            {"role": "assistant", "content": evil, "model": evil}]}  # fmt: skip
        for kind, data in (("parley", parley), ("openai", openai)):
            result = import_file(store, _write(tmp_path, data, f"{n}-{kind}.json"), "local:m")
            page = export_conversation(store, result.conversation.id, "html")
            problems = _audit(page)
            tally.case(leaked=bool(problems), note=f"{kind} {evil!r}: {problems[:3]}")
            for m in store.messages(result.conversation.id):
                assert all(a.mime in ("image/png", "text/plain") for a in m.attachments)
    tally.check()


def test_an_image_stored_with_a_hostile_media_type_is_named_not_rendered(
    store: ConversationStore,
) -> None:
    from app.core.chat.attachments import Attachment

    conv = store.create("Old")
    evil = Attachment("x.png", "image", "image/png' onerror='alert(1)//", data=PNG)
    store.add_user_message(conv.id, "look", (evil,))
    page = export_conversation(store, conv.id, "html")
    assert _audit(page) == [] and "Attached image: x.png" in page


def test_images_are_known_by_their_bytes_not_their_claimed_type(
    tmp_path: Path, store: ConversationStore
) -> None:
    png = write_png(tmp_path / "p.png").read_bytes()
    ok = [{"role": "user", "content": [_image_part("image/svg+xml", png)]}]
    result = import_file(store, _write(tmp_path, ok), "local:m")
    (image,) = store.messages(result.conversation.id)[0].attachments
    assert image.mime == "image/png" and image.name == "image-1.png"
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
    bad = [{"role": "user", "content": "hi"},
           {"role": "user", "content": [_image_part("image/svg+xml", svg)]}]  # fmt: skip
    with pytest.raises(ImportFormatError, match=r"Message 2's content, part 1 is not a PNG"):
        import_file(store, _write(tmp_path, bad), "local:m")
    assert len(store.list()) == 1  # the first import only


# item 6: all or nothing, checked values, clear refusals ------------------------------


def _refused(store: ConversationStore, path: Path, pattern: str) -> None:
    with pytest.raises(ImportFormatError, match=pattern) as info:
        import_file(store, path, "local:m")
    assert "went wrong" not in str(info.value).lower() and info.value.hint
    assert store.list() == [], "a refused import must store nothing"


@pytest.mark.parametrize(
    ("message", "pattern"),
    [
        ({"created_at": 1e20}, r"[Mm]essage 2's created_at is 1e\+20, out of range"),
        ({"created_at": -5}, r"Message 2's created_at .* out of range"),
        ({"created_at": "yesterday"}, r"Message 2's created_at is str, not a number"),
        ({"content": ["a"]}, r"Message 2's content is list, not text"),
        ({"model": {"x": 1}}, r"Message 2's model is dict, not text"),
        ({"prompt_tokens": -1}, r"Message 2's prompt_tokens is -1"),
        ({"ttft_s": 1e300}, r"Message 2's ttft_s"),
        ({"outcome": "exploded"}, r"Message 2's outcome is 'exploded'"),
        ({"token_source": 3}, r"Message 2's token_source is int"),
        ({"attachments": "x"}, r"Message 2's attachments is not a list"),
        ({"attachments": [{"kind": "video"}]}, r"Message 2's attachment 1's kind"),
        ({"attachments": [{"kind": "image", "data": "%%%"}]}, r"attachment 1's data is not base64"),
        ({"attachments": [{"kind": "text", "text": 5}]}, r"attachment 1's text is int"),
    ],
)
def test_a_bad_value_anywhere_refuses_the_whole_file_naming_message_and_field(
    tmp_path: Path, store: ConversationStore, message: dict[str, Any], pattern: str
) -> None:
    data = _parley([{"role": "user", "content": "fine", "created_at": 1.7e9},
                    {"role": "assistant", "content": "x", **message}])  # fmt: skip
    _refused(store, _write(tmp_path, data), pattern)


def test_an_import_interrupted_midway_leaves_nothing(
    tmp_path: Path, store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _parley([{"role": "user", "content": f"m{i}"} for i in range(500)])
    path = _write(tmp_path, data)
    real = ConversationStore._insert_message
    calls = 0

    def dying(conn: Any, conversation_id: int, position: int, m: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 300:
            raise KeyboardInterrupt
        return real(conn, conversation_id, position, m)

    monkeypatch.setattr(ConversationStore, "_insert_message", staticmethod(dying))
    with pytest.raises(KeyboardInterrupt):
        import_file(store, path, "local:m")
    assert store.list() == []
    monkeypatch.undo()
    result = import_file(store, path, "local:m")
    assert len(store.messages(result.conversation.id)) == 500


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ('[{"role": "user", "content": "x", "n": NaN}]', r"NaN"),
        ('[{"role": "user", "content": "x", "n": Infinity}]', r"Infinity"),
        ('[{"role": "user", "content": "x", "n": -Infinity}]', r"-Infinity"),
        ('[{"role": "user", "content": "x", "n": 1e999}]', r"1e999, too large"),
        ("[" * 100_000 + "]" * 100_000, r"nested more than"),
        ('[{"role": "user", "content": "x", "n": ' + "[" * 200 + "]" * 200 + "}]",
         r"nested more than"),
    ],
)
def test_nan_infinity_and_deep_nesting_are_refused_by_name(
    tmp_path: Path, store: ConversationStore, text: str, pattern: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    _refused(store, path, pattern)


def test_imported_timestamps_show_and_export(tmp_path: Path, store: ConversationStore) -> None:
    data = _parley([{"role": "user", "content": "then", "created_at": 0},
                    {"role": "assistant", "content": "now", "created_at": 7.2e9}])  # fmt: skip
    conv = import_file(store, _write(tmp_path, data), "local:m").conversation
    for fmt in ("md", "json", "html"):
        assert "then" in export_conversation(store, conv.id, fmt)


def test_size_limits_match_attach(tmp_path: Path, store: ConversationStore) -> None:
    big = "x" * (MAX_TEXT_CHARS + 1)
    _refused(store, _write(tmp_path, [{"role": "user", "content": big}]),
             r"[Mm]essage 1's content holds 1,000,001 characters")  # fmt: skip
    with_prompt = _parley([{"role": "user", "content": "x"}], system_prompt=big)
    _refused(store, _write(tmp_path, with_prompt), r"system prompt holds")
    huge = PNG + b"\x00" * MAX_IMAGE_BYTES
    _refused(store, _write(tmp_path, [{"role": "user", "content": [_image_part("image/png",
                                                                               huge)]}]),
             r"part 1 is 20.0 MB; images can be at most 20 MB")  # fmt: skip
    # A five-megabyte title is cut to one line, as any title is.
    conv = import_file(store, _write(tmp_path, _parley([], title="t" * 5_000_000)),
                       "local:m").conversation  # fmt: skip
    assert len(conv.title) <= 60


def test_bidi_controls_are_dropped_from_imported_titles(
    tmp_path: Path, store: ConversationStore
) -> None:
    for data in (_parley([], title="abc\u202edef\u2066"),
                 {"title": "abc\u202edef", "messages": [{"role": "user", "content": "q"}]},
                 [{"role": "user", "content": "abc\u202edef"}]):  # fmt: skip
        conv = import_file(store, _write(tmp_path, data), "local:m").conversation
        assert conv.title == "abcdef"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_utf8_with_bom_and_utf16_import(
    tmp_path: Path, store: ConversationStore, encoding: str
) -> None:
    text = json.dumps([{"role": "user", "content": "héllo ☃"}], ensure_ascii=False)
    raw = text.encode(encoding)
    if encoding == "utf-16-le":
        raw = b"\xff\xfe" + raw
    elif encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    path = tmp_path / "bom.json"
    path.write_bytes(raw)
    conv = import_file(store, path, "local:m").conversation
    assert store.messages(conv.id)[0].content == "héllo ☃"


def test_a_file_in_another_encoding_is_refused_saying_so(
    tmp_path: Path, store: ConversationStore
) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes('[{"role": "user", "content": "héllo"}]'.encode("latin-1"))
    _refused(store, path, r"not UTF-8 or UTF-16 text")


# item 7: an answer cut inside a code block ---------------------------------------------


def test_an_answer_cut_inside_a_code_block_does_not_swallow_later_headings(
    store: ConversationStore,
) -> None:
    conv = store.create("Cut")
    store.add_user_message(conv.id, "code please")
    msg = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    store.append_message(conv.id, store.message(msg.id))  # a second, later message
    store.db.execute("UPDATE messages SET content = ? WHERE id = ?",
                     ("Here:\n```python\nx = '````'\n````not a close\n", msg.id))  # fmt: skip
    markdown = conversation_to_markdown(store, conv.id)
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    headings = [t for t in tokens if t.type == "heading_open" and t.tag == "h2"]
    assert len(headings) == 4 - 1  # user, cut answer, the message after it


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        ("```\ncode", "```\ncode\n```"),
        ("~~~~ py\ncode\n", "~~~~ py\ncode\n~~~~"),
        ("```\nhas ```` inside\n", "```\nhas ```` inside\n`````"),
        ("```\ndone\n```\nafter", "```\ndone\n```\nafter"),
        ("```\nnot closed by ~~~\n~~~", "```\nnot closed by ~~~\n~~~\n```"),
        ("``` a`b\nnot a fence", "``` a`b\nnot a fence"),
        ("plain", "plain"),
    ],
)
def test_close_fences(text: str, closed: str) -> None:
    assert close_fences(text) == closed


def test_the_html_export_fetches_nothing_when_opened(store: ConversationStore) -> None:
    """Found by a new user: `![i](http://evil.example/x.png)` in an answer exported as an
    `<img>` that contacted that server (a tracking pixel) when the file was opened."""
    conv = store.create("Pictures")
    store.add_user_message(conv.id, "![i](http://evil.example/x.png) "
                                    "![j](https://evil.example/y.gif?id=42)")  # fmt: skip
    page = export_conversation(store, conv.id, "html")
    remote = re.findall(r"""<(?:img|script|iframe|link|video|audio|source)\b[^>]*"""
                        r"""(?:src|href)\s*=\s*["']?https?:""", page, re.I)  # fmt: skip
    assert remote == []
    assert 'href="http://evil.example/x.png"' in page  # kept, as a link the user may follow
