"""Folding text for search: case, accents and compatibility forms, in every script.

SQLite's `unicode61` tokenizer folds case for all scripts but removes
diacritics only from Latin letters, so Greek `σοφία` would not match `σοφια`.
Parley indexes and queries text folded here instead: NFKD, combining marks
dropped, `str.casefold()`, and the Turkish dotless i (U+0131) read as i (so
"KAHVALTI" and "kahvalt\u0131" meet). Our own code, because SQLite's Python
module cannot register an FTS5 tokenizer.
"""

from __future__ import annotations

import unicodedata

_DOTLESS = str.maketrans({"\u0131": "i"})


def fold(text: str | None) -> str:
    """`text` folded for matching (never for display); None folds to ""."""
    if not text:
        return ""
    if text.isascii():  # NFKD leaves ASCII as it is, with no marks and no dotless i
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().translate(_DOTLESS)
