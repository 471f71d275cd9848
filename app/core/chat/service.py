"""One chat turn, start to finish: store, stream, checkpoint, finish, bill.

The same generator serves the CLI, the GUI's worker and the tests. The
assistant message exists in the store from the first moment with outcome
`streaming` and is checkpointed at least once a second, so a crash or
`kill -9` leaves the question and the partial answer behind. The request
itself (policy, budget reservation, stream, ledger row) is one
`app.core.exchange.Exchange`, as for every other path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.chat.projects import ProjectStore
from app.core.chat.prompt import prompt_messages
from app.core.exchange import LocalOnlyError, Origin, quote
from app.core.foundation.errors import ParleyError
from app.core.llm.contract import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
    Sampling,
    TokenSource,
)
from app.core.llm.targets import LOCAL
from app.core.llm.token_count import count_prompt, spent_usage
from app.core.llm.vision import NO_IMAGES_HINT

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Sequence
    from threading import Event

    from app.core.billing.ledger import Ledger, Quote
    from app.core.chat.attachments import Attachment
    from app.core.chat.conversations import Conversation, ConversationStore, Message
    from app.core.exchange import Exchange, Exchanges
    from app.core.llm.registry import BackendRegistry
    from app.core.llm.targets import Target

__all__ = ["ChatService", "ContextUsage", "LocalOnlyError", "TurnResult"]

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 1.0

# More characters per token than tokenizers average on real text (English prose runs
# about 4 with Tekken and Llama's): history past this many characters per token of context
# can't all be sent, so the meter and the quote need not read it.
CHARS_PER_TOKEN_BOUND = 6


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """What the context meter shows: the draft plus the history that will be sent."""

    tokens: int
    context_length: int
    exact: bool  # counted with the target's tokenizer; an estimate otherwise
    will_trim: bool  # older turns will be left out to fit
    images_refused: str | None = None  # why the draft's images can't go to this target


@dataclass(frozen=True, slots=True)
class TurnResult:
    conversation_id: int
    message_id: int
    usage_id: int
    result: GenerationResult


class ChatService:
    def __init__(
        self,
        store: ConversationStore,
        ledger: Ledger,
        backends: BackendRegistry,
        exchanges: Exchanges,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.backends = backends
        self.exchanges = exchanges
        self.checkpoint_interval_s = checkpoint_interval_s
        self.projects = ProjectStore(store.db)

    def quote(
        self,
        conversation_id: int | None,
        text: str,
        target: Target,
        attachments: tuple[Attachment, ...] = (),
    ) -> Quote:
        """What sending `text` now would cost at most: the figure under the message box,
        and the one the hard-budget check uses. Counting may load a tokenizer: call it
        off the GUI thread."""
        history: Sequence[ChatMessage] = ()
        max_tokens = 1024
        if conversation_id is not None:
            sampling = self.store.get(conversation_id).sampling
            max_tokens = sampling.max_tokens
            context = self._context_length(target, sampling)
            history, _cut = self.store.history_within(
                conversation_id, context * CHARS_PER_TOKEN_BOUND
            )
        from app.core.chat.attachments import message_content

        messages = [*history, ChatMessage("user", message_content(text, attachments))]
        return quote(self.ledger, self.backends.get(target.backend), target, messages, max_tokens)

    def context_usage(
        self,
        conversation_id: int | None,
        text: str,
        target: Target,
        attachments: tuple[Attachment, ...] = (),
    ) -> ContextUsage:
        """Tokens of the history plus the draft against the target's context (the meter
        under the message box). Exact where the target's tokenizer is at hand (the loaded
        local model, Mistral's Tekken), else an estimate. Call it off the GUI thread."""
        from app.core.chat.conversations import Message
        from app.core.llm.context_fit import prompt_budget

        sampling = Sampling()
        stored: list[Message] = []
        system = ""
        cut = False
        if conversation_id is not None:
            conv = self.store.get(conversation_id)
            sampling, system = conv.sampling, conv.system_prompt
            stored, cut = self.store.newest_within(
                conversation_id, self._context_length(target, sampling) * CHARS_PER_TOKEN_BOUND
            )
        draft = Message(id=0, conversation_id=0, position=-1, role="user", content=text,
                        created_at=0.0, attachments=attachments)  # fmt: skip
        turns = [*stored, draft] if text.strip() or attachments else stored
        messages = prompt_messages(system, turns)
        backend = self.backends.get(target.backend)
        counted = backend.count_prompt(target.model, messages)
        if counted is not None:
            tokens, exact = int(counted), True
        else:
            tokens, source = count_prompt(messages, target.model)
            exact = source is TokenSource.COUNTED
        context = self._context_length(target, sampling)
        refused = None
        if any(a.is_image for a in attachments) and not self.accepts_images(target):
            refused = (f"{target.model or target.backend} can't read images: "
                       f"{self._no_images_reason(target)}")  # fmt: skip
        return ContextUsage(
            tokens=tokens,
            context_length=context,
            exact=exact and not any(m.images for m in messages),
            will_trim=cut or tokens > prompt_budget(context, sampling.max_tokens),
            images_refused=refused,
        )

    def _context_length(self, target: Target, sampling: Sampling) -> int:
        """The target's context length in tokens: the loaded local model's own, else the
        conversation's setting."""
        backend = self.backends.get(target.backend)
        return backend.context_length(target.model, sampling.context_length)

    def accepts_images(self, target: Target) -> bool:
        return self.backends.get(target.backend).accepts_images(target.model)

    def _no_images_reason(self, target: Target) -> str:
        if target.backend == LOCAL:
            return ("no multimodal projector (an mmproj GGUF) sits beside this model. "
                    + NO_IMAGES_HINT)  # fmt: skip
        return "this model does not take image input. " + NO_IMAGES_HINT

    def send(
        self,
        conversation_id: int,
        text: str,
        target: Target,
        cancel: Event,
        *,
        attachments: tuple[Attachment, ...] = (),
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, TurnResult]:
        """Store the question and stream the answer; `on_load_progress(model, 0.0-1.0)`
        hears of a local model load this turn causes, on the calling thread."""
        if not text.strip() and not attachments:
            raise ParleyError("The message is empty.", "Type something to send.")
        self._check(conversation_id, target)
        if any(a.is_image for a in attachments) and not self.accepts_images(target):
            raise ParleyError(
                f"{target.model or target.backend} can't read images: "
                f"{self._no_images_reason(target)}"
            )
        self.store.add_user_message(conversation_id, text, attachments)
        return (yield from self._answer(conversation_id, target, cancel, on_load_progress))

    def regenerate(
        self, conversation_id: int, target: Target, cancel: Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, TurnResult]:  # fmt: skip
        self._check(conversation_id, target)
        self.store.drop_after_last_user_message(conversation_id)
        return (yield from self._answer(conversation_id, target, cancel, on_load_progress))

    def resend_edited(
        self, message_id: int, text: str, target: Target, cancel: Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, TurnResult]:  # fmt: skip
        if not text.strip():
            raise ParleyError("The message is empty.", "Type something to send.")
        self._check(self.store.message(message_id).conversation_id, target)
        msg = self.store.edit_user_message(message_id, text)
        return (yield from self._answer(msg.conversation_id, target, cancel, on_load_progress))

    def recover_interrupted(self) -> list[Message]:
        """After a crash: mark dangling answers `interrupted` and bill what they used:
        the prompt they sent and the text they wrote, counted like any failed answer."""
        recovered = self.store.recover_interrupted()
        for msg in recovered:
            conv = self.store.get(msg.conversation_id)
            before = [m for m in self.store.messages(conv.id) if m.position < msg.position]
            prompt = prompt_messages(conv.system_prompt, before)
            model = msg.model or ""
            requested = model
            with contextlib.suppress(ParleyError):  # a removed provider: bill the id it had
                requested = self.backends.get(msg.backend or "").billing_model(model)
            result = GenerationResult(
                text=msg.content,
                outcome=Outcome.INTERRUPTED,
                # Recovery runs at start-up (the window's, the CLI's): no seconds spent
                # loading a tokenizer; an estimate says it is one.
                usage=spent_usage(prompt, msg.content, model, read=True, load=False),
                backend=msg.backend or "",
                provider=msg.provider or "",
                model=model,
                ttft_s=None,
                duration_s=0.0,
                error="The app stopped while this answer was being written.",
                requested_model=requested,
            )
            self.ledger.record(
                result, conversation_id=conv.id, message_id=msg.id, project=conv.project,
                created_at=msg.created_at,
            )  # fmt: skip
        return recovered

    def _check(self, conversation_id: int, target: Target) -> None:
        """Policy (the local-only lock, "keep local" projects) and the target's own checks,
        before anything is stored."""
        self.exchanges.check(target, _origin(self.store.get(conversation_id)))

    def _answer(
        self, conversation_id: int, target: Target, cancel: Event,
        on_load_progress: Callable[[str, float], None] | None,
    ) -> Generator[str, None, TurnResult]:  # fmt: skip
        conv = self.store.get(conversation_id)
        request = GenerationRequest(tuple(self.store.history(conversation_id)), conv.sampling,
                                    target.model)  # fmt: skip
        exchange = self.exchanges.open(target, request, _origin(conv), cancel)
        try:
            identity = exchange.identity
            msg = self.store.start_assistant_message(
                conv.id, identity.target.backend, identity.provider, target.model
            )
        except BaseException:
            exchange.abandon()
            raise
        exchange.message_id = msg.id
        error = yield from self._stream(exchange, msg.id, on_load_progress)
        assert exchange.settled is not None
        result = exchange.settled.result
        if error is not None:  # the store failed mid-answer: the ledger row says stopped
            result = dataclasses.replace(result, outcome=Outcome.ERROR, error=str(error))
        self._finish(conv.id, msg.id, result)
        return TurnResult(conv.id, msg.id, exchange.settled.usage_id, result)

    def _stream(
        self, exchange: Exchange, message_id: int,
        on_load_progress: Callable[[str, float], None] | None,
    ) -> Generator[str, None, ParleyError | None]:  # fmt: skip
        """Pass the answer on and checkpoint it; a store failure ends it (returned)."""
        parts: list[str] = []
        last_checkpoint = time.monotonic()
        with contextlib.closing(exchange.deltas(on_load_progress)) as deltas:
            try:
                for delta in deltas:
                    parts.append(delta)
                    yield delta
                    now = time.monotonic()
                    if now - last_checkpoint >= self.checkpoint_interval_s:
                        self.store.checkpoint(message_id, "".join(parts), len(parts))
                        last_checkpoint = now
            except ParleyError as exc:
                deltas.close()
                return exc
            except GeneratorExit:  # the consumer went away (window closed): keep it, stopped
                deltas.close()
                assert exchange.settled is not None
                self._finish(self.store.message(message_id).conversation_id, message_id,
                             exchange.settled.result)  # fmt: skip
                raise
        return None

    def _finish(self, conversation_id: int, message_id: int, result: GenerationResult) -> None:
        self.store.finish_assistant_message(message_id, result)
        self.store.touch(conversation_id)


def _origin(conv: Conversation) -> Origin:
    return Origin(project=conv.project, conversation_id=conv.id, local_only=conv.local_only)
