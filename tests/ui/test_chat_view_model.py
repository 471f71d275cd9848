"""The Chat tab's pure helpers: defaults, the line under an answer, Markdown splitting."""

from __future__ import annotations

from app.core.chat.conversations import Message
from app.core.llm.contract import Outcome
from app.ui.chat.view_model import UNANSWERED_NOTE, meta_line, notice_text
from app.ui.render.markdown import CHUNK_CHARS, Segment, split_segments


def _answer(**fields: object) -> Message:
    base: dict[str, object] = {
        "id": 1, "conversation_id": 1, "position": 1, "role": "assistant",
        "content": "hi", "created_at": 0.0, "backend": "local", "provider": "llama.cpp",
        "model": "SmolLM2", "outcome": "done", "prompt_tokens": 12, "completion_tokens": 41,
        "token_source": "counted", "ttft_s": 0.05, "duration_s": 0.3,
    }  # fmt: skip
    base.update(fields)
    return Message(**base)  # type: ignore[arg-type]


def test_meta_line_says_where_what_and_how_it_ended() -> None:
    line = meta_line(_answer())
    assert line.startswith("local · SmolLM2 · 12 prompt + 41 completion tokens (counted)")
    assert "first token 0.05 s" in line
    assert "160.0 tok/s" in line
    assert line.endswith("done")
    assert meta_line(_answer(outcome="stopped", ttft_s=None)).endswith("stopped")
    assert meta_line(_answer(outcome="streaming")) == "local · SmolLM2 · writing…"


def test_notice_for_trimmed_error_and_interrupted_answers() -> None:
    assert notice_text(_answer()) == ""
    assert notice_text(_answer(trimmed_turns=1)) == (
        "1 earlier message was left out to fit the model's context."
    )
    assert "4 earlier messages were left out" in notice_text(_answer(trimmed_turns=4))
    assert notice_text(_answer(outcome=Outcome.ERROR, error="Model crashed.")) == "Model crashed."
    assert "Regenerate" in notice_text(_answer(outcome=Outcome.INTERRUPTED))


def test_an_answer_without_text_says_its_question_goes_with_the_next() -> None:
    failed = notice_text(_answer(content="", outcome=Outcome.ERROR, error="Couldn't reach X."))
    assert failed.splitlines() == ["Couldn't reach X.", UNANSWERED_NOTE]
    assert "together with your next message" in UNANSWERED_NOTE
    assert UNANSWERED_NOTE in notice_text(_answer(content="", outcome=Outcome.STOPPED))
    assert notice_text(_answer(content="", outcome=Outcome.STREAMING)) == ""


def test_split_segments_separates_code_blocks() -> None:
    text = "# Title\n\nSome *text*.\n\n```python\nprint('hi')\n```\nAfter.\n~~~\nraw\n~~~"
    assert split_segments(text) == [
        Segment("prose", "# Title\n\nSome *text*.\n"),
        Segment("code", "print('hi')", "python"),
        Segment("prose", "After."),
        Segment("code", "raw", ""),
    ]


def test_unclosed_fence_is_code_to_the_end() -> None:
    assert split_segments("Look:\n```js\nlet a = 1;\nlet b") == [
        Segment("prose", "Look:"),
        Segment("code", "let a = 1;\nlet b", "js", closed=False),  # not highlighted yet
    ]
    assert split_segments("") == []


def test_long_prose_is_cut_at_paragraphs_and_cuts_do_not_move() -> None:
    paragraph = "word " * 60  # 300 characters
    text = "\n\n".join(f"{paragraph}{i}" for i in range(12))
    pieces = split_segments(text)
    assert len(pieces) > 1
    assert all(p.kind == "prose" for p in pieces)
    assert all(len(p.text) < CHUNK_CHARS + 400 for p in pieces)
    assert "\n\n".join(p.text for p in pieces) == text
    grown = split_segments(text + "\n\nmore text")
    assert grown[: len(pieces) - 1] == pieces[:-1]
    # An indented paragraph continues a list item: never cut before it.
    listy = "- item\n" + "x" * CHUNK_CHARS + "\n\n  continued\n\nnext"
    assert [p.text for p in split_segments(listy)] == [
        "- item\n" + "x" * CHUNK_CHARS + "\n\n  continued",
        "next",
    ]
