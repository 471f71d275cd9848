"""Search: case and accents fold in every script, the index follows every change, and the
query runs off the GUI thread (regression, issue 15, input 5)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from app.core.chat.conversations import ConversationStore
from app.ui.chat import ChatTab
from app.workers import WorkerPool
from tests.reliability.support import add_exchange

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext
    from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.reliability("load"), pytest.mark.qt_log_ignore("propagateSizeHints")]


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool()
    yield workers
    workers.shutdown()


def test_search_folds_case_and_accents_beyond_ascii(ctx: AppContext, tally: Tally) -> None:
    """Regression: `привет` did not find "Привет…", `über` did not find "Über Äpfel"."""
    texts = {
        "ru": "Привет, как дела?",
        "de": "Über Äpfel und Birnen",
        "fr": "Une crème brûlée, s'il vous plaît",
        "el": "\u0397 ΣΟΦΊΑ των αρχαίων",
        "tr": "İstanbul'da KAHVALTI",
    }
    ids = {lang: add_exchange(ctx, text, "ok") for lang, text in texts.items()}
    queries = [("привет", "ru"), ("ПРИВЕТ", "ru"), ("über", "de"), ("uber", "de"),
               ("äpfel", "de"), ("APFEL", "de"), ("creme brulee", "fr"), ("BRÛLÉE", "fr"),
               ("σοφια", "el"), ("αρχαιων", "el"), ("kahvalt\u0131", "tr"),
               ("прив", "ru")]  # fmt: skip
    for query, lang in queries:
        found = [c.id for c in ctx.store.list(query)]
        tally.case(lost=found != [ids[lang]], note=f"{query!r} found {found}")
    tally.check()


def test_the_index_follows_edits_renames_and_deletes(ctx: AppContext, tally: Tally) -> None:
    store: ConversationStore = ctx.store
    cid = add_exchange(ctx, "Sourdough starter", "Feed it flour and water.")
    [question, _answer] = store.messages(cid)
    store.edit_user_message(question.id, "Rye bread")
    checks = [("sourdough", []), ("rye", [cid]), ("flour", [])]  # the answer went with the edit
    store.rename(cid, "Baking notes")
    checks += [("baking", [cid])]
    for query, expected in checks:
        found = [c.id for c in store.list(query)]
        tally.case(lost=found != expected, note=f"{query!r}: {found} != {expected}")
    store.delete(cid)
    for query in ("rye", "baking"):
        found = [c.id for c in store.list(query)]
        tally.case(lost=found != [], note=f"{query!r} after delete: {found}")
    rows = ctx.db.scalar("SELECT COUNT(*) FROM messages_fts")
    tally.case(lost=rows != 0, note=f"{rows} stale index rows")
    # What the user typed is text, never FTS5 syntax.
    for query in ('"', "AND", "a OR b", "NEAR(x y)", "col:val", "-x", "*", "^x", "100%", "_"):
        try:
            store.list(query)
        except Exception as exc:  # noqa: BLE001 - any error here is the finding
            tally.case(hung=True, note=f"{query!r}: {exc}")
        else:
            tally.case()
    tally.check()


def test_search_runs_off_the_gui_thread(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, monkeypatch: pytest.MonkeyPatch,
    tally: Tally,
) -> None:  # fmt: skip
    """Regression: the search query ran on the GUI thread."""
    wanted = add_exchange(ctx, "Привет, как дела?", "Хорошо!")
    add_exchange(ctx, "Something else", "entirely")
    threads: list[str] = []
    original = ConversationStore.list

    def recording_list(self: ConversationStore, search: str = "", limit: int = 1000,
                       folder_id: int | None = None) -> list:  # type: ignore[type-arg]  # fmt: skip
        if search:
            threads.append(threading.current_thread().name)
        return original(self, search, limit, folder_id)

    monkeypatch.setattr(ConversationStore, "list", recording_list)
    tab = ChatTab(ctx, pool)
    qtbot.addWidget(tab)
    tab.show()
    tab.conversations.search.setText("привет")  # keyClicks aborts on non-Latin-1 keys
    qtbot.waitUntil(lambda: tab.conversations.ids() == [wanted], timeout=5000)
    on_gui = [t for t in threads if t == threading.main_thread().name]
    tally.case(hung=bool(on_gui) or not threads, note=str(threads))
    tab.conversations.search.clear()
    qtbot.waitUntil(lambda: len(tab.conversations.ids()) == 2, timeout=5000)
    tally.check()
