"""Folding text for search: case, accents and compatibility forms, in every script.

SQLite's `unicode61` tokenizer folds case for all scripts but removes
diacritics only from Latin letters, so Greek `σοφία` would not match `σοφια`.
Parley indexes and queries text folded here instead: NFKD, combining marks
dropped, `str.casefold()`, and the Turkish dotless i (U+0131) read as i (so
"KAHVALTI" and "kahvalt\u0131" meet). Our own code, because SQLite's Python
module cannot register an FTS5 tokenizer.

Chinese, Japanese and Korean are written without spaces, so `unicode61` took a whole
run (`今天讨论机器学习`) as one word and a search found only its start. `fold_for_search`
also puts each of their characters apart: the index holds them one by one, and a query
looks for its characters next to each other (an FTS5 phrase), anywhere in a run.
"""


from __future__ import annotations

import re
import unicodedata

_DOTLESS = str.maketrans({"\u0131": "i"})
# Scripts written without spaces between words: Han, kana, Hangul (and its jamo, which
# NFKD leaves), CJK compatibility ideographs and the supplementary ideograph planes.
_UNSPACED = re.compile(
    "([\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f])"
)


def fold(text: str | None) -> str:
    """`text` folded for matching (never for display); None folds to ""."""
    if not text:
        return ""
    if text.isascii():  # NFKD leaves ASCII as it is, with no marks and no dotless i
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().translate(_DOTLESS)


def fold_for_search(text: str | None) -> str:
    """`fold(text)` with each character of an unspaced script as a word of its own: what the
    full-text index holds (SQL `parley_fold`) and what a query is split into."""
    folded = fold(text)
    if folded.isascii():
        return folded
    return _UNSPACED.sub(r" \1 ", folded)


def plain_name(text: str | None) -> str:
    """A name as a person reads it: control and format characters (escape sequences'
    ESC, zero-width spaces, bidi overrides) removed, white space collapsed."""
    if not text:
        return ""
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf") or c in " \t")
    return " ".join(kept.split())


def name_key(text: str | None) -> str:
    """What two names must share to be the same name (`Clinic`, `clinic`, `cl\\u0131nic` and
    `clin\u200bic` are one): `plain_name`, then `fold`."""
    return fold(plain_name(text))
