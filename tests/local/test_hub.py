"""Search, repo files and remote headers against the local hub (HF_ENDPOINT)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.local import hub
from app.core.local.fit import Verdict
from app.core.local.hub import HubAccessError, HubError, HubNotFoundError
from app.core.local.remote_fit import assess_repo
from tests.local.conftest import BROKEN, GATED, HUGE, REPO, SPLIT_FILES, STARTER_FILE

if TYPE_CHECKING:
    from tests.helpers.hub_server import HubServer


def test_search_sorts_and_filters(hub_server: HubServer) -> None:
    by_downloads = [r.repo_id for r in hub_search("")]
    assert by_downloads[0] == REPO
    by_likes = [r.repo_id for r in hub_search("", "likes")]
    assert by_likes[0] == GATED
    assert hub_search("", "updated")[0].repo_id == GATED
    [mistral] = hub_search("Huge")
    assert mistral.repo_id == HUGE and mistral.author == "mistralai-test"
    assert mistral.license == "apache-2.0" and mistral.likes == 500
    assert mistral.updated is not None and mistral.updated.startswith("2025-09-01")
    default = [r.repo_id for r in hub.search()]  # Mistral Small 3.x first
    assert default == [GATED]


def hub_search(query: str, sort: str = "downloads") -> list[hub.RepoSummary]:
    return hub.search(query, sort)


def test_repo_files_group_split_parts(hub_server: HubServer) -> None:
    models = {m.name: m for m in hub.repo_files(REPO)}
    assert set(models) == {"SmolLM2-135M-Instruct.Q4_1", "Tiny-Q8_0", "Tiny-Split-Q8_0"}
    split = models["Tiny-Split-Q8_0"]
    assert [f.path for f in split.files] == list(SPLIT_FILES) and split.complete
    assert split.quantization == "Q8_0"
    starter = models["SmolLM2-135M-Instruct.Q4_1"]
    assert starter.quantization == "Q4_1" and starter.first.sha256 is not None
    assert hub.find_model(REPO, SPLIT_FILES[1]) == split


def test_remote_header_and_fit_without_downloading(hub_server: HubServer) -> None:
    header, size = hub.fetch_header(REPO, STARTER_FILE)
    assert header.architecture == "llama" and header.block_count == 30
    assert size == 98362432
    ranges = [r["range"] for r in hub_server.file_requests(STARTER_FILE)]
    assert ranges and all(r and r.startswith("bytes=0-") for r in ranges)
    assessed = {a.model.name: a for a in assess_repo(REPO, n_ctx=2048)}
    starter = assessed["SmolLM2-135M-Instruct.Q4_1"]
    assert starter.fit is not None and starter.fit.verdict in (Verdict.CPU, Verdict.FULL_GPU)
    assert starter.quantization == "Q4_1" and starter.context_length == 8192
    assert "KV cache" in starter.fit.explanation


def test_too_big_model_verdict(hub_server: HubServer) -> None:
    [huge] = assess_repo(HUGE)
    assert huge.fit is not None and huge.fit.verdict is Verdict.TOO_BIG
    assert huge.quantization == "Q4_K_M" and huge.layers == 40


def test_broken_files_are_reported_not_raised(hub_server: HubServer) -> None:
    assessed = {a.model.name: a for a in assess_repo(BROKEN)}
    assert "not a GGUF" in (assessed["NotGGUF-Q4_1"].error or "")
    assert "truncated" in (assessed["Truncated-Q4_1"].error or "")


def test_gated_repo_says_so(hub_server: HubServer) -> None:
    with pytest.raises(HubAccessError, match="gated") as info:
        hub.fetch_header(GATED, "Mistral-Small-3.2-Q4_K_M.gguf")
    assert "HF_TOKEN" in str(info.value)


def test_missing_repo_and_file(hub_server: HubServer) -> None:
    with pytest.raises(HubNotFoundError, match="no model repo 'nobody/nothing'"):
        hub.repo_files("nobody/nothing")
    with pytest.raises(HubNotFoundError, match=r"no GGUF file 'missing\.gguf'"):
        hub.find_model(REPO, "missing.gguf")
    with pytest.raises(HubNotFoundError):
        hub.fetch_header(REPO, "missing.gguf")


def test_unreachable_hub_and_offline_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    with pytest.raises(HubError, match="Couldn't reach Hugging Face"):
        hub.fetch_header(REPO, STARTER_FILE)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="HF_HUB_OFFLINE"):
        hub.search("x")
