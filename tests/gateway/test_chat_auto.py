"""`Auto` in the chat's model control: the router picks per message, and the answer says why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.llm.targets import AUTO, Target
from app.ui.chat.view_model import notice_text
from tests.helpers.fault_server import Reply
from tests.providers.support import add_provider, new_conversation, send

if TYPE_CHECKING:
    from app.core.context import AppContext
    from tests.helpers.fault_server import FaultServer

AUTO_TARGET = Target(AUTO, "")


def priced_cloud(ctx: AppContext, fault: FaultServer) -> None:
    add_provider(ctx, "cheap", "openai", fault.base_url)
    ctx.ledger.prices.set("cheap", "smollm2", 0.10, 0.20)


def test_auto_is_offered_between_local_models_and_providers(ctx: AppContext, fault: FaultServer
                                                            ) -> None:  # fmt: skip
    priced_cloud(ctx, fault)
    groups = [o.group for o in ctx.target_options()]
    assert groups.index("Local models") < groups.index("Automatic") < groups.index(
        "cheap (OpenAI-compatible)")


def test_auto_answers_from_the_cheapest_provider_and_the_answer_says_why(
    ctx: AppContext, fault: FaultServer
) -> None:
    priced_cloud(ctx, fault)
    turn = send(ctx, new_conversation(ctx, AUTO_TARGET), "Hello", AUTO_TARGET)
    msg = ctx.store.message(turn.message_id)
    assert (msg.backend, msg.model) == ("cheap", "fault-model")  # as the server names itself
    assert msg.route is not None and msg.route.startswith("cheapest: cheap")
    assert notice_text(msg).startswith("Auto sent this to cheap: cheapest: cheap")
    row = ctx.ledger.get(turn.usage_id)
    assert row is not None and (row.backend, row.route) == ("cheap", msg.route)
    assert row.requested_model == "smollm2"
    assert row.cost is not None and row.cost > 0  # priced like a direct cloud turn


def test_a_local_only_conversation_on_auto_never_leaves_the_machine(
    ctx: AppContext, fault: FaultServer
) -> None:
    priced_cloud(ctx, fault)
    conv = new_conversation(ctx, AUTO_TARGET)
    ctx.store.set_local_only(conv, True)
    turn = send(ctx, conv, "Hello", AUTO_TARGET)
    msg = ctx.store.message(turn.message_id)
    assert msg.backend == "local"
    assert msg.route == "kept local: this conversation is local only"
    assert fault.chat_requests() == []


def test_auto_falls_back_to_local_when_the_cloud_fails_before_its_first_token(
    ctx: AppContext, fault: FaultServer
) -> None:
    priced_cloud(ctx, fault)
    fault.script(*[Reply.error(429, "slow down")] * 3)
    turn = send(ctx, new_conversation(ctx, AUTO_TARGET), "Hello", AUTO_TARGET)
    msg = ctx.store.message(turn.message_id)
    assert msg.backend == "local" and msg.content
    assert "cheap failed before its first token" in (msg.route or "")
    assert len(fault.chat_requests()) == 3  # the provider's own retries, then the fallback
