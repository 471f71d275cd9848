"""Provider kinds are data (app/core/providers/kinds.py): a row added to the table is a
kind everywhere, the CLI's choices and the form's list included, with no migration."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app import cli
from app.core.context import AppContext
from app.core.llm.contract import ChatMessage, GenerationRequest, Sampling
from app.core.providers import (
    OpenAICompatBackend,
    ProviderConfigError,
    kinds,
    make_backend,
    parse_kind,
    provider_options,
)
from app.core.providers._openai import request_body
from app.core.providers.kinds import Kind

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

GROQ = Kind("groq", "Groq", base_url="https://api.groq.com/openai/v1",
            model="llama-3.1-8b-instant", ledger_provider="groq", stream_usage=False)  # fmt: skip


@pytest.fixture
def groq(monkeypatch: pytest.MonkeyPatch) -> Kind:
    monkeypatch.setattr(kinds, "KINDS", (*kinds.KINDS, GROQ))
    return GROQ


def _cli_takes(kind: str) -> bool:
    """Whether `parley providers add x --kind KIND` gets past argparse's choices."""
    try:
        cli.build_parser().parse_args(["providers", "add", "x", "--kind", kind])
    except SystemExit:
        return False
    return True


def test_the_shipped_kinds_are_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert kinds.kind_names() == ("hf", "mistral", "openai")
    assert parse_kind("mistral").label == "Mistral"
    with pytest.raises(ProviderConfigError, match="Use one of: hf, mistral, openai"):
        parse_kind("groq")
    assert all(_cli_takes(name) for name in ("hf", "mistral", "openai"))
    assert not _cli_takes("groq")
    assert "invalid choice: 'groq'" in capsys.readouterr().err


def test_a_row_added_at_runtime_is_a_kind_in_the_cli_storage_and_wiring(
    groq: Kind, isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "groq" in kinds.kind_names()
    assert _cli_takes("groq")
    assert cli.main(["providers", "add", "fast", "--kind", "groq"]) == 0
    assert "Added fast (Groq): https://api.groq.com/openai/v1" in capsys.readouterr().out
    ctx = AppContext.open(isolated_dirs)  # storage took it: no CHECK, no migration
    try:
        config = ctx.provider_store.get("fast")
        assert config.kind is groq and config.model == "llama-3.1-8b-instant"
        backend = make_backend(config, ctx.keys, lambda: False)
        assert type(backend) is OpenAICompatBackend and backend.provider == "groq"
        request = GenerationRequest((ChatMessage("user", "hi"),), Sampling(), "m")
        assert "stream_options" not in request_body(request, "m", groq)
        [option] = provider_options(ctx.provider_store, offline=False)
        assert option.reason.startswith("No API key")  # key_required, as the row says
    finally:
        ctx.close()


def test_a_stored_kind_this_parley_does_not_know_is_listed_but_unusable(
    groq: Kind, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = AppContext.open(isolated_dirs)
    ctx.provider_store.add("fast", "groq")
    ctx.close()
    monkeypatch.setattr(kinds, "KINDS", kinds.KINDS[:-1])  # as an older Parley would read it
    ctx = AppContext.open(isolated_dirs)
    try:
        [config] = ctx.provider_store.list()
        assert config.kind.name == "groq" and config.kind.wire is None
        with pytest.raises(ProviderConfigError, match="doesn't know"):
            make_backend(config, ctx.keys, lambda: False)
        [option] = provider_options(ctx.provider_store, offline=False)
        assert not option.available and "update Parley" in option.reason
    finally:
        ctx.close()


def test_the_providers_form_lists_the_table(groq: Kind, qtbot: QtBot) -> None:
    from app.ui.providers.form import ProviderForm

    form = ProviderForm()
    qtbot.addWidget(form)
    listed = [form.kind.itemData(i) for i in range(form.kind.count())]
    assert listed == ["hf", "mistral", "openai", "groq"]
    form.kind.setCurrentIndex(listed.index("groq"))
    assert form.selected_kind is groq
    assert form.base_url.text() == "https://api.groq.com/openai/v1"
    assert form.model.currentText() == "llama-3.1-8b-instant"
    assert not form.hf_provider.isEnabled()  # only Hugging Face router kinds have a policy
