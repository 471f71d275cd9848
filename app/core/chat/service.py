"""One chat turn, start to finish: store, stream, checkpoint, finish, bill.

The same generator serves the CLI, the GUI's worker and the tests. The
assistant message exists in the store from the first moment with outcome
`streaming` and is checkpointed at least once a second, so a crash or
`kill -9` leaves the question and the partial answer behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.chat import metering
from app.core.chat.backend import (
    Backend,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
    RequestContext,
    sent_model,
)
from app.core.chat.projects import ProjectStore
from app.core.chat.prompt import prompt_messages
from app.core.chat.targets import AUTO, LOCAL
from app.core.chat.token_count import spent_usage
from app.core.foundation.errors import ParleyError, UnknownTargetError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Sequence
    from threading import Event

    from app.core.billing.ledger import Ledger, Quote
    from app.core.chat.conversations import ConversationStore, Message
    from app.core.chat.targets import Target

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 1.0
BUG_MESSAGE = "Something went wrong while writing this answer. The details are in Parley's log."


@dataclass(frozen=True, slots=True)
class TurnResult:
    conversation_id: int
    message_id: int
    usage_id: int
    result: GenerationResult


class LocalOnlyError(ParleyError):
    """A local-only conversation was about to go to a cloud backend."""


class BackendRegistry:
    """Backends by name. Factories run on first use, so a cloud SDK loads only when needed."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Backend]] = {}
        self._backends: dict[str, Backend] = {}

    def register(self, name: str, factory: Callable[[], Backend]) -> None:
        self._factories[name] = factory
        self._backends.pop(name, None)

    def names(self) -> list[str]:
        return list(self._factories)

    def get(self, name: str) -> Backend:
        if name not in self._backends:
            if name not in self._factories:
                known = ", ".join(self._factories) or "none"
                raise UnknownTargetError(
                    f"There is no backend called '{name}'.", f"Known backends: {known}."
                )
            self._backends[name] = self._factories[name]()
        return self._backends[name]

    def loaded(self) -> list[Backend]:
        return list(self._backends.values())


class ChatService:
    def __init__(
        self,
        store: ConversationStore,
        ledger: Ledger,
        backends: BackendRegistry,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.backends = backends
        self.checkpoint_interval_s = checkpoint_interval_s
        self.projects = ProjectStore(store.db)

    def quote(self, conversation_id: int | None, text: str, target: Target) -> Quote:
        """What sending `text` now would cost at most: the figure under the message box,
        and the one the hard-budget check uses. Counting may load a tokenizer: call it
        off the GUI thread."""
        history: Sequence[ChatMessage] = ()
        max_tokens = 1024
        if conversation_id is not None:
            history = self.store.history(conversation_id)
            max_tokens = self.store.get(conversation_id).sampling.max_tokens
        messages = [*history, ChatMessage("user", text)]
        return metering.quote(
            self.ledger, self.backends.get(target.backend), target, messages, max_tokens
        )

    def send(
        self, conversation_id: int, text: str, target: Target, cancel: Event
    ) -> Generator[str, None, TurnResult]:
        if not text.strip():
            raise ParleyError("The message is empty.", "Type something to send.")
        self._check_local_only(conversation_id, target)
        backend = self._prepared(target)
        self.store.add_user_message(conversation_id, text)
        return (yield from self._answer(conversation_id, backend, target, cancel))

    def regenerate(
        self, conversation_id: int, target: Target, cancel: Event
    ) -> Generator[str, None, TurnResult]:
        self._check_local_only(conversation_id, target)
        backend = self._prepared(target)
        self.store.drop_after_last_user_message(conversation_id)
        return (yield from self._answer(conversation_id, backend, target, cancel))

    def resend_edited(
        self, message_id: int, text: str, target: Target, cancel: Event
    ) -> Generator[str, None, TurnResult]:
        if not text.strip():
            raise ParleyError("The message is empty.", "Type something to send.")
        self._check_local_only(self.store.message(message_id).conversation_id, target)
        backend = self._prepared(target)
        msg = self.store.edit_user_message(message_id, text)
        return (yield from self._answer(msg.conversation_id, backend, target, cancel))

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
                requested = sent_model(self.backends.get(msg.backend or ""), model)
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

    def _check_local_only(self, conversation_id: int, target: Target) -> None:
        # issue 4: a conversation marked local only never leaves this machine (`auto` is
        # told so and keeps it local).
        if target.backend not in (LOCAL, AUTO) and self.store.get(conversation_id).local_only:
            raise LocalOnlyError(
                f"This conversation is marked local only, so Parley won't send it to "
                f"'{target.backend}'.",
                "Pick a local model, or unlock the conversation (the lock on its toolbar).",
            )

    def _prepared(self, target: Target) -> Backend:
        backend = self.backends.get(target.backend)
        prepare = getattr(backend, "prepare", None)
        if prepare is not None:
            prepare(target.model)
        return backend

    def _answer(
        self, conversation_id: int, backend: Backend, target: Target, cancel: Event
    ) -> Generator[str, None, TurnResult]:
        conv = self.store.get(conversation_id)
        history = self.store.history(conversation_id)
        provider = metering.provider_of(backend)
        sent = sent_model(backend, target.model)
        routes_itself = getattr(backend, "stream_routed", None)
        if routes_itself is None:  # `auto` checks budgets for each target it tries
            metering.check_budgets(
                self.ledger, backend, target, history, conv.sampling.max_tokens,
                project=conv.project, conversation_id=conv.id,
            )  # fmt: skip
        msg = self.store.start_assistant_message(conv.id, backend.name, provider, target.model)
        bill_to = self.projects.bill_to(conv.project) if backend.name != LOCAL else None
        request = GenerationRequest(tuple(history), conv.sampling, target.model, bill_to)
        parts: list[str] = []
        started = time.monotonic()
        last_checkpoint = started
        result: GenerationResult | None = None
        if routes_itself is not None:
            context = RequestContext(conv.project, conv.id, conv.local_only)
            stream = routes_itself(request, cancel, context)
        else:
            stream = backend.stream(request, cancel)
        try:
            while True:
                try:
                    delta = next(stream)
                except StopIteration as stop:
                    result = stop.value
                    break
                parts.append(delta)
                yield delta
                now = time.monotonic()
                if now - last_checkpoint >= self.checkpoint_interval_s:
                    self.store.checkpoint(msg.id, "".join(parts), len(parts))
                    last_checkpoint = now
        except ParleyError as exc:
            result = metering.spent_result(backend, target, history, parts, started, str(exc))
        except GeneratorExit:
            # The consumer went away (window closed): keep what we have as stopped.
            stream.close()
            result = metering.spent_result(backend, target, history, parts, started, None)
            self._finish(conv.id, conv.project, msg.id, result)
            raise
        except Exception:
            logger.exception("generation failed")
            result = metering.spent_result(backend, target, history, parts, started, BUG_MESSAGE)
        assert result is not None
        if result.requested_model is None:
            result = dataclasses.replace(result, requested_model=sent)
        usage_id = self._finish(conv.id, conv.project, msg.id, result)
        return TurnResult(conv.id, msg.id, usage_id, result)

    def _finish(
        self, conversation_id: int, project: str | None, message_id: int, result: GenerationResult
    ) -> int:
        self.store.finish_assistant_message(message_id, result)
        self.store.touch(conversation_id)
        return self.ledger.record(
            result, conversation_id=conversation_id, message_id=message_id, project=project
        )
