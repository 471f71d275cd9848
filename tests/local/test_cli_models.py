"""`parley models ...` and `parley hardware` as real subprocesses against the local hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from app.core.local.starter import STARTER
from tests.helpers.starter import REPO as SOURCE_ROOT
from tests.local.conftest import BROKEN, GATED, HUGE, REPO, SPLIT_FILES, STARTER_FILE

if TYPE_CHECKING:
    from pathlib import Path

    from tests.helpers.hub_server import HubServer

MB = 1 << 20


def parley(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          cwd=SOURCE_ROOT, timeout=120, check=False)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_search_json_and_table(hub_server: HubServer) -> None:
    rows = json.loads(parley("models", "search", "GGUF", "--json", check=True).stdout)
    assert [r["repo_id"] for r in rows][:2] == [REPO, HUGE]
    assert {"author", "downloads", "likes", "license", "updated"} <= set(rows[0])
    by_likes = json.loads(parley("models", "search", "GGUF", "--sort", "likes", "--json").stdout)
    assert by_likes[0]["repo_id"] == GATED
    table = parley("models", "search", check=True).stdout  # default: Mistral Small 3.x
    assert GATED in table and "DOWNLOADS" in table


def test_files_show_fit_verdict_and_estimate(hub_server: HubServer) -> None:
    rows = json.loads(parley("models", "files", REPO, "--json", "--context", "2048").stdout)
    by_name = {r["name"]: r for r in rows}
    starter = by_name["SmolLM2-135M-Instruct.Q4_1"]
    assert starter["quantization"] == "Q4_1" and starter["architecture"] == "llama"
    assert starter["fit"]["label"] in ("CPU only", "full GPU offload")
    assert starter["fit"]["n_ctx"] == 2048 and starter["fit"]["kv_bytes"] == 2048 * 23040
    assert starter["fit"]["speed_low"] > 0
    assert by_name["Tiny-Split-Q8_0"]["parts"] == 2
    text = parley("models", "files", HUGE, check=True).stdout
    assert "too big" in text and "KV cache" in text


def test_download_use_list_delete(hub_server: HubServer, isolated_dirs: Path) -> None:
    done = parley("models", "download", REPO, STARTER_FILE)
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout and "%" in done.stderr
    listed = json.loads(parley("models", "list", "--json", check=True).stdout)
    assert [m["name"] for m in listed] == ["SmolLM2-135M-Instruct.Q4_1"]
    assert "Active model: SmolLM2" in parley("models", "use", "SmolLM2-135M-Instruct.Q4_1",
                                             check=True).stdout  # fmt: skip
    gone = parley("models", "delete", "SmolLM2-135M-Instruct.Q4_1", check=True)
    assert "Deleted" in gone.stdout
    assert json.loads(parley("models", "list", "--json").stdout) == []
    missing = parley("models", "use", "SmolLM2-135M-Instruct.Q4_1")
    assert missing.returncode == 1 and "no local model" in missing.stderr


def test_kill_9_mid_download_then_a_new_process_resumes(
    hub_server: HubServer, isolated_dirs: Path
) -> None:
    hub_server.repos[REPO].files[STARTER_FILE].rate = 25 * MB
    partial_dir = isolated_dirs / "models" / ".partial"
    cmd = [sys.executable, "-m", "app", "models", "download", REPO, STARTER_FILE]
    proc = subprocess.Popen(cmd, cwd=SOURCE_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            parts = list(partial_dir.glob("*.part")) if partial_dir.exists() else []
            if parts and parts[0].stat().st_size > 20 * MB:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    [part] = partial_dir.glob("*.part")
    kept = part.stat().st_size
    assert 20 * MB < kept < STARTER.size
    assert not (isolated_dirs / "models" / STARTER_FILE).exists()

    hub_server.repos[REPO].files[STARTER_FILE].rate = None
    again = parley("models", "download", REPO, STARTER_FILE)
    assert again.returncode == 0, again.stderr
    gets = [r for r in hub_server.file_requests(STARTER_FILE) if r["method"] == "GET"]
    resumed = gets[-1]
    assert resumed["range"] is not None and int(resumed["range"][6:-1]) >= kept - MB
    assert resumed["if_range"] == f'"{STARTER.sha256}"'
    assert (isolated_dirs / "models" / STARTER_FILE).stat().st_size == STARTER.size
    assert list(partial_dir.glob("*.part")) == []


def test_split_download_lists_one_model(hub_server: HubServer) -> None:
    parley("models", "download", REPO, SPLIT_FILES[1], check=True)
    listed = json.loads(parley("models", "list", "--json").stdout)
    assert [m["name"] for m in listed] == ["Tiny-Split-Q8_0-00001-of-00002"]


@pytest.mark.parametrize(("repo", "filename", "message"), [
    (GATED, "Mistral-Small-3.2-Q4_K_M.gguf", "gated or private"),
    ("nobody/nothing-GGUF", "x.gguf", "no model repo 'nobody/nothing-GGUF'"),
    (REPO, "missing.gguf", "has no GGUF file 'missing.gguf'"),
    (BROKEN, "NotGGUF-Q4_1.gguf", "not a GGUF model file"),
    (BROKEN, "Truncated-Q4_1.gguf", "truncated"),
    (BROKEN, "../escape-Q4_1.gguf", "Refused the file name"),
    (HUGE, "Mistral-Huge-Q4_K_M.gguf", "too big for this machine's memory"),
    (BROKEN, "Corrupt-Q4_1.gguf", "failed its checksum"),
])  # fmt: skip
def test_download_refusals_say_why(
    hub_server: HubServer, isolated_dirs: Path, repo: str, filename: str, message: str
) -> None:
    proc = parley("models", "download", repo, filename)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert proc.stderr.count("\n") <= 3 or "%" in proc.stderr  # one clear line, not a traceback
    assert "Traceback" not in proc.stderr
    assert json.loads(parley("models", "list", "--json").stdout) == []


def test_import_copy_and_in_place(tmp_path: Path, starter_path: Path, isolated_dirs: Path) -> None:
    imported = parley("models", "import", str(starter_path), check=True)
    assert "Imported SmolLM2-135M-Instruct.Q4_1" in imported.stdout
    assert (isolated_dirs / "models" / STARTER_FILE).is_file()
    dup = parley("models", "import", str(starter_path))
    assert dup.returncode == 1 and "already installed" in dup.stderr
    parley("models", "delete", "SmolLM2-135M-Instruct.Q4_1", check=True)

    parley("models", "import", "--link", str(starter_path), check=True)
    assert (isolated_dirs / "models" / STARTER_FILE).is_symlink()
    parley("models", "delete", "SmolLM2-135M-Instruct.Q4_1", check=True)
    assert starter_path.is_file()  # in place: only the link went

    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model")
    bad = parley("models", "import", str(junk))
    assert bad.returncode == 1 and "not a GGUF model file" in bad.stderr


def test_found_lists_hf_cache_and_lm_studio(
    tmp_path: Path, starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = tmp_path / "hf" / "hub" / "models--a--b" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "b-Q4_1.gguf").symlink_to(starter_path)
    lm = tmp_path / "lm" / "pub" / "model"
    lm.mkdir(parents=True)
    (lm / "c-Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LMSTUDIO_MODELS_DIR", str(tmp_path / "lm"))
    found = json.loads(parley("models", "found", "--json", check=True).stdout)
    assert {(f["name"], f["source"]) for f in found} == {
        ("b-Q4_1", "Hugging Face cache"), ("c-Q4_1", "LM Studio"),
    }
