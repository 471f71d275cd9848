"""Full-text search over conversations: what the user typed, as an FTS5 query.

The index (tables `messages_fts`, `conversations_fts`, see `chat/schema.py`) holds text
folded by `foundation.text_fold.fold_for_search`; a query is folded the same way.
"""

from __future__ import annotations

import re

from app.core.foundation.text_fold import fold, fold_for_search

# unicode61's token characters are letters and digits; everything else separates words.
_WORD = re.compile(r"[^\W_]+")


def fts_query(text: str) -> str:
    """An FTS5 query matching every word of `text` as a prefix; "" when it has no words.
    A word in an unspaced script (Chinese, Japanese, Korean) matches its characters next
    to each other, anywhere (see `fold_for_search`).

    Each word is quoted, so FTS5's operators (AND, NEAR, -, :) in what the user
    typed stay plain text.
    """
    terms = []
    for word in _WORD.findall(fold(text)):
        pieces = fold_for_search(word).split()
        terms.append(f'"{word}"*' if len(pieces) == 1 else f'"{" ".join(pieces)}"')
    return " ".join(terms)
