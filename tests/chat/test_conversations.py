from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import psutil
import pytest

from app.core.chat.conversations import ConversationStore, title_from
from app.core.foundation.errors import NotFoundError, ParleyError
from app.core.llm.contract import GenerationResult, Outcome, Sampling, TokenSource, Usage
from app.core.schema import open_database

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(open_database(tmp_path / "c.sqlite3"))


def _answer(text: str) -> GenerationResult:
    return GenerationResult(text, Outcome.DONE, Usage(3, 4, TokenSource.COUNTED), "local",
                            "llama.cpp", "m", 0.1, 0.5)  # fmt: skip


def test_first_message_names_the_conversation(store: ConversationStore) -> None:
    conv = store.create()
    store.add_user_message(conv.id, "How do  I\nbake bread with rye flour at home?")
    assert store.get(conv.id).title == "How do I bake bread with rye flour at home?"
    assert len(title_from("x" * 500)) == 60


def test_list_is_most_recent_first_and_searches_titles_and_content(
    store: ConversationStore,
) -> None:
    a = store.create("Sourdough")
    b = store.create("Taxes")
    store.add_user_message(a.id, "What is a levain?")
    store.add_user_message(b.id, "Deadline for 100% filing?")
    assert [c.id for c in store.list()] == [b.id, a.id]
    assert [c.id for c in store.list("levain")] == [a.id]
    assert [c.id for c in store.list("sourdough")] == [a.id]
    # LIKE wildcards in the query are literal text
    assert [c.id for c in store.list("100%")] == [b.id]
    assert store.list("_") == []


def test_rename_and_delete(store: ConversationStore) -> None:
    conv = store.create()
    store.add_user_message(conv.id, "hi")
    store.rename(conv.id, "  Greeting  ")
    assert store.get(conv.id).title == "Greeting"
    store.delete(conv.id)
    with pytest.raises(NotFoundError):
        store.get(conv.id)
    assert store.db.scalar("SELECT COUNT(*) FROM messages") == 0


def test_edit_drops_later_turns_and_regenerate_drops_the_answer(
    store: ConversationStore,
) -> None:
    conv = store.create()
    first = store.add_user_message(conv.id, "one")
    a1 = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    store.finish_assistant_message(a1.id, _answer("uno"))
    store.add_user_message(conv.id, "two")
    a2 = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    store.finish_assistant_message(a2.id, _answer("dos"))

    store.drop_after_last_user_message(conv.id)
    assert [m.content for m in store.messages(conv.id)] == ["one", "uno", "two"]

    store.edit_user_message(first.id, "ONE")
    assert [m.content for m in store.messages(conv.id)] == ["ONE"]


def test_history_includes_the_system_prompt_and_skips_empty_answers(
    store: ConversationStore,
) -> None:
    conv = store.create(system_prompt="Be brief.")
    store.add_user_message(conv.id, "q")
    failed = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    store.finish_assistant_message(failed.id, _answer(""))
    roles = [(m.role, m.content) for m in store.history(conv.id)]
    assert roles == [("system", "Be brief."), ("user", "q")]


def test_sampling_is_validated_before_it_is_saved(store: ConversationStore) -> None:
    conv = store.create()
    with pytest.raises(ParleyError, match="Temperature"):
        store.set_sampling(conv.id, Sampling(temperature=5))
    store.set_sampling(conv.id, Sampling(temperature=0.15, max_tokens=64))
    assert store.get(conv.id).sampling == Sampling(temperature=0.15, max_tokens=64)


def test_an_answer_whose_writer_died_is_recovered_as_interrupted(
    store: ConversationStore,
) -> None:
    conv = store.create()
    store.add_user_message(conv.id, "q")
    msg = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    store.checkpoint(msg.id, "partial", 1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    store.db.execute("UPDATE messages SET writer_pid = ? WHERE id = ?",
                     (int(dead.stdout), msg.id))  # fmt: skip
    recovered = store.recover_interrupted()
    assert [m.id for m in recovered] == [msg.id]
    assert store.message(msg.id).outcome == "interrupted"
    assert store.message(msg.id).content == "partial"


def test_an_answer_still_being_written_by_a_live_process_is_left_alone(
    store: ConversationStore,
) -> None:
    conv = store.create()
    store.add_user_message(conv.id, "q")
    msg = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    # The writer is identified by pid and start time (issue 15): here, our parent process.
    parent = psutil.Process(os.getppid())
    store.db.execute("UPDATE messages SET writer_pid = ?, writer_started = ? WHERE id = ?",
                     (parent.pid, parent.create_time(), msg.id))  # fmt: skip
    assert store.recover_interrupted() == []
    assert store.message(msg.id).outcome == "streaming"


def test_the_meter_reads_only_the_newest_messages_that_could_be_sent(
    store: ConversationStore,
) -> None:
    conv = store.create()
    for i in range(300):
        store.add_user_message(conv.id, f"question {i:03} " + "x" * 86)  # 100 characters
        answer = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
        store.finish_assistant_message(answer.id, _answer(f"answer {i:03} " + "y" * 88))
    newest, cut = store.newest_within(conv.id, 1_050)
    # Just past the bound: ten whole messages make 1,000 characters, the eleventh 1,100.
    assert [m.content[:12] for m in newest[:2]] == ["answer 294 y", "question 295"]
    assert len(newest) == 11 and newest[-1].content.startswith("answer 299")
    assert cut
    everything, cut = store.newest_within(conv.id, 10**9)
    assert len(everything) == 600 and not cut
    history, cut = store.history_within(conv.id, 1_050)
    # The prompt rule still holds: it starts with the user's turn, never an orphan answer.
    assert history[0].role == "user" and cut
