"""Issue 22, input 9: search found no Chinese or Japanese word inside a run of text
(`机器学习`, `しりとり`), only the start of a run, because the index took a whole run of
characters written without spaces as one word."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from app.core.chat.conversations import ConversationStore
from app.core.foundation.storage import Database
from app.core.schema import MIGRATIONS, open_database

if TYPE_CHECKING:
    from pathlib import Path

TEXTS = {
    "zh": "今天我们讨论机器学习的基础和深度学习的应用",
    "ja": "子どもたちはことばのしりとりで遊んだ",
    "ko": "오늘은한국어검색을시험합니다",
    "fr": "Une crème brûlée pour le dessert",
}


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    store = ConversationStore(open_database(tmp_path / "p.sqlite3"))
    for lang, text in TEXTS.items():
        conv = store.create()
        store.rename(conv.id, lang)
        store.add_user_message(conv.id, text)
    return store


def found(store: ConversationStore, query: str) -> set[str]:
    return {c.title for c in store.list(query)}


@pytest.mark.parametrize(("query", "lang"), [
    ("机器学习", "zh"), ("学习", "zh"), ("深度", "zh"), ("应用", "zh"), ("今天", "zh"),
    ("しりとり", "ja"), ("ことば", "ja"), ("遊んだ", "ja"),
    ("한국어", "ko"), ("검색", "ko"),
    ("creme", "fr"), ("BRÛLÉE", "fr"), ("dess", "fr"),
])  # fmt: skip
def test_a_word_is_found_anywhere_in_a_run_of_text(
    store: ConversationStore, query: str, lang: str
) -> None:
    assert found(store, query) == {lang}


def test_characters_that_are_not_next_to_each_other_do_not_match(
    store: ConversationStore,
) -> None:
    assert found(store, "学生") == set()  # 学 and 生 both absent together
    assert found(store, "机学") == set()  # both there, never next to each other
    assert found(store, "机器 应用") == {"zh"}  # every word, anywhere


def test_a_database_indexed_before_is_indexed_again_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = Database(path, MIGRATIONS[:-1])  # the version before this index
    conv = old.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES ('zh', 1, 1)"
    ).lastrowid
    old.execute("INSERT INTO messages (conversation_id, position, role, content, created_at) "
                "VALUES (?, 0, 'user', ?, 1)", (conv, TEXTS["zh"]))  # fmt: skip
    old.close()
    store = ConversationStore(open_database(path))
    assert found(store, "学习") == {"zh"}
    with sqlite3.connect(path) as conn:  # one index row per message, not two
        assert conn.execute("SELECT COUNT(*) FROM messages_fts").fetchone()[0] == 1
