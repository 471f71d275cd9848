"""One chat turn, start to finish: store, stream, checkpoint, finish, bill.

The same generator serves the CLI, the GUI's worker and the tests. The
assistant message exists in the store from the first moment with outcome
`streaming` and is checkpointed at least once a second, so a crash or
`kill -9` leaves the question and the partial answer behind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.chat.backend import (
    Backend,
    GenerationRequest,
    GenerationResult,
    Outcome,
    TokenSource,
    Usage,
)
from app.core.chat.targets import LOCAL
from app.core.chat.token_estimate import estimate_prompt_tokens, estimate_tokens
from app.core.foundation.errors import ParleyError, UnknownTargetError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Sequence
    from threading import Event

    from app.core.billing.ledger import Ledger
    from app.core.chat.backend import ChatMessage
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
        """After a crash: mark dangling answers `interrupted` and bill what they used."""
        recovered = self.store.recover_interrupted()
        for msg in recovered:
            conv = self.store.get(msg.conversation_id)
            result = GenerationResult(
                text=msg.content,
                outcome=Outcome.INTERRUPTED,
                usage=Usage(0, msg.completion_tokens or 0, TokenSource.COUNTED),
                backend=msg.backend or "",
                provider=msg.provider or "",
                model=msg.model or "",
                ttft_s=None,
                duration_s=0.0,
                error="The app stopped while this answer was being written.",
            )
            self.ledger.record(
                result, conversation_id=conv.id, message_id=msg.id, project=conv.project,
                created_at=msg.created_at,
            )  # fmt: skip
        return recovered

    def _check_local_only(self, conversation_id: int, target: Target) -> None:
        # issue 4: a conversation marked local only never leaves this machine.
        if target.backend != LOCAL and self.store.get(conversation_id).local_only:
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
        provider = getattr(backend, "provider", backend.name)
        # Budgets: warn, or refuse a cloud request (raises) before anything is sent.
        self.ledger.preflight(
            conversation_id=conv.id, backend=backend.name, provider=provider, model=target.model,
            project=conv.project, messages=history, max_tokens=conv.sampling.max_tokens,
        )  # fmt: skip
        msg = self.store.start_assistant_message(conv.id, backend.name, provider, target.model)
        request = GenerationRequest(tuple(history), conv.sampling, target.model)
        parts: list[str] = []
        started = time.monotonic()
        last_checkpoint = started
        result: GenerationResult | None = None
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
            result = self._failed(backend, provider, target, history, parts, started, str(exc))
        except GeneratorExit:
            # The consumer went away (window closed): keep what we have as stopped.
            stream.close()
            result = self._failed(backend, provider, target, history, parts, started, None)
            self._finish(conv.id, conv.project, msg.id, result)
            raise
        except Exception:
            logger.exception("generation failed")
            result = self._failed(backend, provider, target, history, parts, started, BUG_MESSAGE)
        assert result is not None
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

    @staticmethod
    def _failed(
        backend: Backend,
        provider: str,
        target: Target,
        history: Sequence[ChatMessage],
        parts: list[str],
        started: float,
        error: str | None,
    ) -> GenerationResult:
        # The backend's own count died with it: estimate, so the ledger never says zero
        # for text that was written. No text means the prompt may never have been read.
        text = "".join(parts)
        prompt_tokens = estimate_prompt_tokens(history) if parts else 0
        return GenerationResult(
            text=text,
            outcome=Outcome.ERROR if error else Outcome.STOPPED,
            usage=Usage(prompt_tokens, estimate_tokens(text), TokenSource.COUNTED),
            backend=backend.name,
            provider=provider,
            model=target.model,
            ttft_s=None,
            duration_s=time.monotonic() - started,
            error=error,
        )
