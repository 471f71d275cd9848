"""Token estimates for cloud answers whose provider reported no usage.

The cloud model's tokenizer isn't available, so Parley estimates: BPE
tokenizers spend about one token on a common English word, more on long or
rare ones (~4 characters each), one per punctuation mark and roughly one per
character of CJK text. Rows built from this are marked "estimated"
(`token_count` uses Mistral's tokenizer instead where it applies); a
streamed answer is never recorded with zero tokens.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.core.llm.contract import ChatMessage

_PIECE = re.compile(r"\w+|[^\w\s]")
MESSAGE_OVERHEAD = 4  # role markers and separators of a chat template
PROMPT_OVERHEAD = 3  # start of the assistant turn


def estimate_tokens(text: str) -> int:
    n = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        if not piece.isascii():
            n += len(piece)
        elif len(piece) <= 6:
            n += 1
        else:
            n += (len(piece) + 3) // 4
    return n


def estimate_prompt_tokens(messages: Iterable[ChatMessage]) -> int:
    return PROMPT_OVERHEAD + sum(MESSAGE_OVERHEAD + estimate_tokens(m.content) for m in messages)
