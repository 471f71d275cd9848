"""Issue 17's core: attachments in the prompt and the store, folders, pins, fork, export
and import."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from app.core.chat.attachments import AttachmentError, read_attachment
from app.core.chat.conversations import ConversationStore
from app.core.chat.export import conversation_to_markdown, export_conversation
from app.core.chat.folders import FolderStore
from app.core.chat.importing import ImportFormatError, import_file
from app.core.foundation.errors import ParleyError
from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage
from app.core.schema import open_database
from tests.helpers.files import write_pdf, write_png

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.foundation.storage import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_database(tmp_path / "c.sqlite3")


@pytest.fixture
def store(db: Database) -> ConversationStore:
    return ConversationStore(db)


def _answer(store: ConversationStore, conversation_id: int, text: str) -> None:
    msg = store.start_assistant_message(conversation_id, "local", "llama.cpp", "m")
    store.finish_assistant_message(msg.id, GenerationResult(
        text, Outcome.DONE, Usage(3, 4, TokenSource.COUNTED), "local", "llama.cpp", "m", 0.1, 0.5
    ))  # fmt: skip


def test_a_source_file_goes_into_the_prompt_as_a_fenced_block_with_its_name(
    tmp_path: Path, store: ConversationStore
) -> None:
    source = tmp_path / "tide.py"
    source.write_text('def tide():\n    return "```"\n', encoding="utf-8")
    attachment = read_attachment(source)
    assert attachment.language == "python" and attachment.tokens > 0
    conv = store.create()
    store.add_user_message(conv.id, "What does this do?", (attachment,))
    sent = store.history(conv.id)[-1].content
    # The file's own ``` can't close the block: the fence is longer.
    assert sent == 'What does this do?\n\ntide.py:\n````python\ndef tide():\n    return "```"\n````'
    assert store.messages(conv.id)[-1].attachments == (attachment,)


def test_a_pdf_is_sent_as_its_text(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "report.pdf", ["Quarterly tides rose", "by four centimetres"])
    attachment = read_attachment(pdf)
    assert attachment.kind == "text" and attachment.mime == "application/pdf"
    assert "Quarterly tides rose" in attachment.text and "by four centimetres" in attachment.text


def test_binary_files_and_empty_pdfs_are_refused_with_what_to_do(tmp_path: Path) -> None:
    blob = tmp_path / "model.bin"
    blob.write_bytes(b"\x00\x01\x02GGUF" * 100)
    with pytest.raises(AttachmentError, match="not a text file") as info:
        read_attachment(blob)
    assert "Attach source or text files" in str(info.value)
    with pytest.raises(AttachmentError, match="no text"):
        read_attachment(write_pdf(tmp_path / "scan.pdf", []))
    with pytest.raises(AttachmentError, match="can't read"):
        read_attachment(tmp_path / "gone.txt")


def test_images_travel_as_image_parts_not_text(tmp_path: Path, store: ConversationStore) -> None:
    image = read_attachment(write_png(tmp_path / "chart.png"))
    conv = store.create()
    store.add_user_message(conv.id, "What is this?", (image,))
    [sent] = store.history(conv.id)
    assert sent.content == "What is this?"
    assert sent.images[0].mime == "image/png" and sent.images[0].data == image.data
    # A failed answer joins the question to the next: its image goes along.
    _answer(store, conv.id, "")
    store.add_user_message(conv.id, "And now?")
    [joined] = store.history(conv.id)
    assert joined.content == "What is this?\n\nAnd now?" and len(joined.images) == 1


def test_pinned_conversations_come_first_and_folders_filter(
    db: Database, store: ConversationStore
) -> None:
    old, new = store.create("Old"), store.create("New")
    store.touch(new.id)
    store.set_pinned(old.id, True)
    assert [c.title for c in store.list()] == ["Old", "New"]
    folders = FolderStore(db)
    work = folders.create("  Work  ")
    assert work.name == "Work"
    with pytest.raises(ParleyError, match="already a folder"):
        folders.create("Work")
    store.set_folder(new.id, work.id)
    assert [c.title for c in store.list(folder_id=work.id)] == ["New"]
    assert folders.list()[0].count == 1
    folders.delete(work.id)
    assert store.get(new.id).folder_id is None  # the conversation stays


def test_fork_copies_up_to_the_message_and_leaves_the_original_alone(
    tmp_path: Path, store: ConversationStore
) -> None:
    conv = store.create("Lighthouse", system_prompt="Be brief.")
    store.add_user_message(conv.id, "First?", (read_attachment(write_png(tmp_path / "a.png")),))
    _answer(store, conv.id, "One.")
    store.add_user_message(conv.id, "Second?")
    _answer(store, conv.id, "Two.")
    original = store.messages(conv.id)
    fork = store.fork(original[1].id)
    assert fork.id != conv.id and fork.system_prompt == "Be brief."
    assert fork.title == "Lighthouse (fork)"
    copied = store.messages(fork.id)
    assert [m.content for m in copied] == ["First?", "One."]
    assert copied[0].attachments == original[0].attachments
    assert store.messages(conv.id) == original


def test_exports_carry_attachments_and_html_escapes_model_output(
    tmp_path: Path, store: ConversationStore
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("keep the lamp lit", encoding="utf-8")
    conv = store.create("Log")
    store.add_user_message(conv.id, "Summarise", (read_attachment(notes),))
    _answer(store, conv.id, "**Keep** it lit <script>alert(1)</script>\n\n```python\nx = 1\n```")
    assert "keep the lamp lit" in conversation_to_markdown(store, conv.id)
    page = export_conversation(store, conv.id, "html")
    assert "<strong>Keep</strong>" in page and "<script>" not in page
    assert "&lt;script&gt;" in page and 'class="highlight"' in page
    data = json.loads(export_conversation(store, conv.id, "json"))
    assert data["messages"][0]["attachments"][0]["text"] == "keep the lamp lit"


def test_a_parley_export_imports_back_whole(tmp_path: Path, store: ConversationStore) -> None:
    conv = store.create("Round trip", system_prompt="S")
    store.add_user_message(conv.id, "Look", (read_attachment(write_png(tmp_path / "p.png")),))
    _answer(store, conv.id, "A red square.")
    path = tmp_path / "export.json"
    path.write_text(export_conversation(store, conv.id, "json"), encoding="utf-8")
    result = import_file(store, path, "local:m")
    again = store.messages(result.conversation.id)
    assert result.conversation.title == "Round trip" and result.conversation.system_prompt == "S"
    assert [(m.role, m.content) for m in again] == [
        ("user", "Look"), ("assistant", "A red square.")]  # fmt: skip
    assert again[0].attachments == store.messages(conv.id)[0].attachments


def test_openai_style_messages_import_with_system_prompt_and_images(
    tmp_path: Path, store: ConversationStore
) -> None:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [
            {"type": "text", "text": "Describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]},
        {"role": "assistant", "content": "A picture."},
        {"role": "tool", "content": "{}", "tool_call_id": "x"},
    ]}), encoding="utf-8")  # fmt: skip
    result = import_file(store, path, "local:m")
    assert result.skipped == 1 and result.messages == 2
    conv = result.conversation
    assert conv.system_prompt == "You are terse." and conv.title == "Describe"
    user, answer = store.messages(conv.id)
    assert user.attachments[0].kind == "image" and answer.outcome == "done"


@pytest.mark.parametrize(
    "content", ['{"hello": 1}', "[1, 2]", "not json", '[{"content": "no role"}]']
)
def test_files_that_are_not_conversations_are_refused_and_nothing_is_stored(
    tmp_path: Path, store: ConversationStore, content: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        import_file(store, path, "local:m")
    assert "OpenAI-style" in str(info.value)
    assert store.list() == []
