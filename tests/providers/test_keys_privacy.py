"""Keys live only in the keyring and go only where they belong; privacy switches hold."""

from __future__ import annotations

import os
import stat
import threading
from typing import TYPE_CHECKING

import keyring
import pytest
from keyring.backends import fail

from app.core.chat.service import LocalOnlyError
from app.core.foundation.settings import OFFLINE_MODE
from app.core.llm.targets import Target
from app.core.providers import (
    KeyScopeError,
    MissingKeyError,
    NoKeyringError,
    OfflineError,
    ProviderConfigError,
    ProviderKind,
)
from app.core.providers.secrets import PLAINTEXT_FALLBACK, PLAINTEXT_FILE, SERVICE
from tests.providers.support import KEY, add_provider, drain, send

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from app.core.context import AppContext
    from tests.helpers.fault_server import FaultServer


def test_key_goes_to_the_keyring_and_not_sqlite(
    ctx: AppContext, fault: FaultServer, isolated_keyring: KeyringBackend
) -> None:
    add_provider(ctx, "fs", "openai", fault.base_url)
    assert isolated_keyring.get_password(SERVICE, "fs") == KEY
    assert ctx.providers.get("fs").has_key
    dump = "\n".join(ctx.db._conn.iterdump())
    assert KEY not in dump
    assert "providers" in dump


def test_missing_key_fails_before_anything_is_stored(ctx: AppContext, fault: FaultServer) -> None:
    ctx.providers.add("mi", ProviderKind.MISTRAL, base_url=fault.base_url)
    conv = ctx.store.create(target="mi:mistral-small-latest")
    with pytest.raises(MissingKeyError, match="providers set-key mi"):
        send(ctx, conv.id, "hi", Target("mi", "mistral-small-latest"))
    assert ctx.store.messages(conv.id) == []
    assert fault.requests == []


def test_key_is_sent_only_to_its_own_provider(ctx: AppContext, fault: FaultServer) -> None:
    from tests.helpers.fault_server import FaultServer as Server

    other = Server()
    try:
        add_provider(ctx, "keyed", "openai", fault.base_url)
        add_provider(ctx, "keyless", "openai", other.base_url, key=None)
        conv = ctx.store.create(target="keyed:smollm2")
        send(ctx, conv.id, "one", Target("keyed", "smollm2"))
        send(ctx, conv.id, "two", Target("keyless", "smollm2"))
        assert fault.chat_requests()[0].headers["Authorization"] == f"Bearer {KEY}"
        assert all("Authorization" not in r.headers for r in other.requests)
        assert all(KEY not in r.body.decode() for r in other.requests)
    finally:
        other.close()


def test_key_does_not_follow_a_changed_base_url(ctx: AppContext, fault: FaultServer) -> None:
    from dataclasses import replace

    from tests.helpers.fault_server import FaultServer as Server

    other = Server()
    try:
        config = add_provider(ctx, "fs", "openai", fault.base_url)
        ctx.providers.update(replace(config, base_url=other.base_url))
        with pytest.raises(KeyScopeError, match="won't send it there"):
            drain(ctx.backends.get("fs").stream(_request(), threading.Event()))
        assert other.requests == []
        ctx.providers.set_key("fs", KEY)  # re-binding the key to the new host is explicit
        drain(ctx.backends.get("fs").stream(_request(), threading.Event()))
        assert other.chat_requests()[0].headers["Authorization"] == f"Bearer {KEY}"
    finally:
        other.close()


def test_no_key_over_plain_http_off_this_machine(ctx: AppContext) -> None:
    ctx.providers.add("lan", ProviderKind.OPENAI, base_url="http://192.0.2.10:8080/v1")
    with pytest.raises(KeyScopeError, match="won't send an API key unencrypted"):
        ctx.providers.set_key("lan", KEY)
    assert not ctx.providers.get("lan").has_key


@pytest.mark.parametrize(
    "url", ["ftp://example.com/v1", "https://user:pw@example.com/v1", "not a url"]
)
def test_bad_base_urls_are_refused(ctx: AppContext, url: str) -> None:
    with pytest.raises(ProviderConfigError):
        ctx.providers.add("bad", ProviderKind.OPENAI, base_url=url)


def test_no_keyring_says_how_to_fix_it(ctx: AppContext) -> None:
    keyring.set_keyring(fail.Keyring())
    ctx.providers.add("mi", ProviderKind.MISTRAL)
    with pytest.raises(NoKeyringError) as info:
        ctx.providers.set_key("mi", KEY)
    assert "GNOME Keyring" in str(info.value)
    assert "plain file" in str(info.value)
    assert not (ctx.root / PLAINTEXT_FILE).exists()


def test_plaintext_fallback_only_when_chosen(ctx: AppContext) -> None:
    keyring.set_keyring(fail.Keyring())
    ctx.settings.set(PLAINTEXT_FALLBACK, True)
    ctx.providers.add("mi", ProviderKind.MISTRAL)
    ctx.providers.set_key("mi", KEY)
    path = ctx.root / PLAINTEXT_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ctx.providers.keys.get("mi") == KEY
    ctx.providers.remove("mi")
    assert KEY not in path.read_text()


def test_removing_a_provider_deletes_its_key(
    ctx: AppContext, fault: FaultServer, isolated_keyring: KeyringBackend
) -> None:
    add_provider(ctx, "fs", "openai", fault.base_url)
    ctx.providers.remove("fs")
    assert isolated_keyring.get_password(SERVICE, "fs") is None
    with pytest.raises(ProviderConfigError, match="was removed"):
        ctx.backends.get("fs")


def test_local_only_conversation_refuses_cloud(ctx: AppContext, fault: FaultServer) -> None:
    add_provider(ctx, "fs", "openai", fault.base_url)
    conv = ctx.store.create(target="fs:smollm2")
    ctx.store.set_local_only(conv.id, True)
    with pytest.raises(LocalOnlyError, match="local only"):
        send(ctx, conv.id, "secret plans", Target("fs", "smollm2"))
    assert fault.requests == []
    assert ctx.store.messages(conv.id) == []


def test_offline_mode_sends_nothing(ctx: AppContext, fault: FaultServer) -> None:
    add_provider(ctx, "fs", "openai", fault.base_url)
    ctx.settings.set(OFFLINE_MODE, True)
    conv = ctx.store.create(target="fs:smollm2")
    with pytest.raises(OfflineError, match="Offline mode is on"):
        send(ctx, conv.id, "hi", Target("fs", "smollm2"))
    with pytest.raises(OfflineError):
        ctx.providers.test("fs")
    assert fault.requests == []
    cloud = [o for o in ctx.target_options() if o.target.backend == "fs"]
    assert cloud
    assert all(not o.available and "Offline" in o.reason for o in cloud)
    local = [o for o in ctx.target_options() if o.target.backend == "local"]
    assert local
    assert all(o.available for o in local)


def test_target_options_group_providers_and_say_why(ctx: AppContext, fault: FaultServer) -> None:
    add_provider(ctx, "fs", "openai", fault.base_url)
    ctx.providers.add("mi", ProviderKind.MISTRAL)
    ctx.providers.add("hf", ProviderKind.HF, hf_provider="cheapest")
    ctx.providers.store.set_options("fs", models=["smollm2", "other-model"])
    options = ctx.target_options()
    assert options[0].group == "Local models"
    by_target = {str(o.target): o for o in options}
    assert by_target["fs:other-model"].available
    assert by_target["fs:smollm2"].group == "fs (OpenAI-compatible)"
    mi = by_target["mi:mistral-small-latest"]
    assert (mi.available, mi.group) == (False, "mi (Mistral)")
    assert "set-key mi" in mi.reason
    hf = by_target["hf:mistralai/Mistral-Small-3.2-24B-Instruct-2506"]
    assert (hf.available, hf.detail) == (False, "cheapest")


def _request():  # type: ignore[no-untyped-def]
    from app.core.llm.contract import ChatMessage, GenerationRequest, Sampling

    return GenerationRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=16), "smollm2")


def test_real_secret_service_round_trip(
    ctx: AppContext, fault: FaultServer, secret_service: KeyringBackend | None
) -> None:
    """Under tools/run-tests: the key really lands in gnome-keyring, under "parley"."""
    if not os.environ.get("PARLEY_TEST_SECRET_SERVICE"):
        pytest.skip("no private Secret Service here (run through tools/run-tests)")
    if secret_service is None:
        pytest.skip(
            "the private gnome-keyring has no login collection and can't create one without "
            "a prompt: tools/run-tests must pipe a newline to `gnome-keyring-daemon --unlock`"
        )
    assert type(keyring.get_keyring()).__module__ == "keyring.backends.SecretService"
    add_provider(ctx, "fs", "openai", fault.base_url)
    assert secret_service.get_password(SERVICE, "fs") == KEY
    assert "SecretService" in ctx.providers.keys.backend_name()
    ctx.providers.remove("fs")
    assert secret_service.get_password(SERVICE, "fs") is None
