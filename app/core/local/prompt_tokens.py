"""The exact token ids a local model is given for a conversation.

Tokenizing a rendered chat prompt with llama.cpp's special-token parsing on
(as llama-cpp-python's chat handlers do) turns a user's literal `[/INST]` or
`</s>` into control tokens, so pasted text could end the user's turn and forge
an assistant turn. Here the chat template is rendered with every message's
content replaced by a placeholder: the template's own text is tokenized with
special-token parsing, message contents without it. Plain text between two
control tokens (template text and contents together) is tokenized in one
piece, as llama.cpp does for a whole prompt, so a conversation without
special-token text in it gets exactly the ids of the whole rendered prompt,
and Mistral's the ids of `MistralTokenizer.encode_chat_completion`
(tests/local/test_mistral_fidelity.py).

BOS is added when the GGUF says so (`tokenizer.ggml.add_bos_token`) and the
template did not render it already: exactly once.

A template that raises (Mistral's refuse roles that do not alternate,
Gemma-style ones refuse a system message) is rendered again with the system
prompt folded into the first user turn; if it still raises, `ModelError` names
the model and quotes the template's message.

We wrote this ourselves: llama-cpp-python renders templates (its sandboxed
`Jinja2ChatFormatter`, used here) but tokenizes the result whole.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ModelError
from app.core.llm.contract import ChatMessage
from app.core.llm.messages import SYSTEM, fold_system

if TYPE_CHECKING:
    from collections.abc import Sequence

    import llama_cpp

logger = logging.getLogger(__name__)

# Used when a GGUF carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_ASCII_SPACE = " \t\n\r\v\f"  # what llama.cpp's isspace() strips next to LSTRIP/RSTRIP tokens


class TemplateRefusedError(Exception):
    """The chat template raised while rendering."""


Piece = str | int  # plain text, or the id of a control token


class PromptTokenizer:
    """Turns alternating chat messages into the token ids handed to `Llama.generate`."""

    def __init__(self, llm: llama_cpp.Llama, model_name: str) -> None:
        import llama_cpp

        self._llm = llm
        self._model_name = model_name
        vocab = llm._model.vocab
        self._vocab = vocab
        self._get_attr = llama_cpp.llama_vocab_get_attr
        self._control = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
        self._lstrip = llama_cpp.LLAMA_TOKEN_ATTR_LSTRIP
        self._rstrip = llama_cpp.LLAMA_TOKEN_ATTR_RSTRIP
        self._bos = llm.token_bos()
        self._add_bos = self._bos != -1 and bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self._fold_system = False  # learnt on the first refusal, kept while the model is loaded
        self._warned_transform = False
        self._split_cache: dict[str, list[Piece]] = {}
        self._template = llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        self._formatter: Any = None
        self._broken: str | None = None
        try:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=self._template,
                eos_token=self._token_text(llm.token_eos()),
                bos_token=self._token_text(self._bos),
            )
        except Exception as exc:  # noqa: BLE001 - a model's template is data, not our code
            self._broken = str(exc) or type(exc).__name__

    @property
    def folds_system(self) -> bool:
        """Whether this model's template refused a system message (and it is folded)."""
        return self._fold_system

    def tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt's token ids; raises `ModelError` when the template refuses it."""
        segments = self._segments(messages)
        ids: list[int] = []
        run: list[str] = []
        strip_next = False

        def flush(lstrip_tail: bool = False) -> None:
            nonlocal strip_next
            text = "".join(run)
            run.clear()
            if strip_next:
                text = text.lstrip(_ASCII_SPACE)
                strip_next = False
            if lstrip_tail:
                text = text.rstrip(_ASCII_SPACE)
            if text:
                ids.extend(self._tokenize(text, special=False))

        for text, is_content in segments:
            if is_content:
                run.append(text)
                continue
            for piece in self._split_special(text):
                if isinstance(piece, str):
                    run.append(piece)
                    continue
                attr = self._attr(piece)
                flush(lstrip_tail=bool(attr & self._lstrip))
                ids.append(piece)
                strip_next = bool(attr & self._rstrip)
        flush()
        if self._add_bos and (not ids or ids[0] != self._bos):
            ids.insert(0, self._bos)
        return ids

    # rendering -------------------------------------------------------------
    def _segments(self, messages: Sequence[ChatMessage]) -> list[tuple[str, bool]]:
        """The rendered prompt as (text, is_message_content) pieces, in order."""
        if self._fold_system:
            messages = fold_system(messages)
        try:
            return self._render_split(messages)
        except TemplateRefusedError as exc:
            if not messages or messages[0].role != SYSTEM:
                raise self._refused(str(exc)) from None
        try:
            segments = self._render_split(fold_system(messages))
        except TemplateRefusedError as exc:
            raise self._refused(str(exc)) from None
        logger.info("%s: the chat template refuses a system message; folding it", self._model_name)
        self._fold_system = True
        return segments

    def _render_split(self, messages: Sequence[ChatMessage]) -> list[tuple[str, bool]]:
        nonce = secrets.token_hex(6)
        marked = self._render(
            [ChatMessage(m.role, f"\ue000{nonce}{i}\ue001") for i, m in enumerate(messages)]
        )
        real = self._render(messages)
        pieces = re.split(f"\ue000{nonce}(\\d+)\ue001", marked)
        contents = [m.content for m in messages]
        for variant in (contents, [c.strip() for c in contents]):
            segments = [
                (variant[int(p)], True) if i % 2 else (p, False) for i, p in enumerate(pieces)
            ]
            if "".join(text for text, _ in segments) == real:
                return segments
        if not self._warned_transform:
            # The template rewrites message text in a way we don't mirror: send the text as
            # typed (still never parsed as control tokens) rather than risk forged turns.
            logger.warning("%s: the chat template changes message text", self._model_name)
            self._warned_transform = True
        return [(contents[int(p)], True) if i % 2 else (p, False) for i, p in enumerate(pieces)]

    def _render(self, messages: Sequence[ChatMessage]) -> str:
        if self._formatter is None:
            raise TemplateRefusedError(self._broken or "the template can't be read")
        import jinja2
        from jinja2.exceptions import SecurityError

        from app.core.local.chat_template import refused

        payload = [{"role": m.role, "content": m.content} for m in messages]
        try:
            prompt: str = self._formatter(messages=payload).prompt
        except SecurityError as exc:  # the sandbox stopped what the load-time check missed
            raise refused(self._model_name, str(exc)) from None
        except (ValueError, TypeError, LookupError, jinja2.TemplateError) as exc:
            raise TemplateRefusedError(str(exc) or type(exc).__name__) from exc
        return prompt

    def _refused(self, why: str) -> ModelError:
        why = " ".join(why.split())
        return ModelError(
            f"{self._model_name}'s chat template refused this conversation: \u201c{why}\u201d.",
            "The conversation is kept: pick another model for it.",
        )

    # tokenizing ------------------------------------------------------------
    def _split_special(self, text: str) -> list[Piece]:
        """Template text as plain text and control-token ids, as llama.cpp partitions it."""
        cached = self._split_cache.get(text)
        if cached is not None:
            return cached
        pieces: list[Piece] = []
        pos = 0
        for token in self._tokenize(text, special=True):
            if not self._attr(token) & self._control:
                continue
            token_text = self._token_text(token)
            at = text.find(token_text, pos) if token_text else -1
            if at < 0:  # a control token we can't place: keep llama.cpp's own reading
                pieces = [*self._tokenize(text, special=True)]
                pos = len(text)
                break
            if at > pos:
                pieces.append(text[pos:at])
            pieces.append(token)
            pos = at + len(token_text)
        if pos < len(text):
            pieces.append(text[pos:])
        self._split_cache[text] = pieces
        return pieces

    def _attr(self, token: int) -> int:
        return int(self._get_attr(self._vocab, token))

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def _token_text(self, token: int) -> str:
        return str(self._llm._model.token_get_text(token)) if token != -1 else ""
