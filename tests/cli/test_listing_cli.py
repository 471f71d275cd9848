from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import Runner


def test_models_list(parley: Runner) -> None:
    [model] = json.loads(parley("models", "list", "--json").stdout)
    assert model["name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert model["quantization"] == "Q4_1"
    assert model["size_bytes"] == 98362432
    assert model["active"] is True
    assert "SmolLM2" in parley("models", "list").stdout


def test_conversations_usage_and_export(parley: Runner, tmp_path: Path) -> None:
    answer = json.loads(parley("chat", "--json", "--max-tokens", "6", "Hello there").stdout)
    cid = answer["conversation_id"]

    [conv] = json.loads(parley("conversations", "list", "--json").stdout)
    assert conv["id"] == cid and conv["title"] == "Hello there"
    assert "Hello there" in parley("conversations", "list").stdout

    [row] = json.loads(parley("usage", "--json").stdout)
    assert row["conversation_id"] == cid
    assert row["completion_tokens"] == answer["completion_tokens"]
    assert row["outcome"] == "done"

    md = tmp_path / "c.md"
    out = parley("conversations", "export", str(cid), "--format", "md", "-o", str(md))
    assert out.returncode == 0
    text = md.read_text()
    assert text.startswith("# Hello there") and answer["text"].strip() in text
    exported = json.loads(parley("conversations", "export", str(cid), "--format", "json").stdout)
    assert exported["messages"][1]["content"] == answer["text"]

    out = parley("conversations", "export", str(cid), "-o", str(tmp_path / "no" / "dir.md"))
    assert out.returncode == 1 and "Couldn't write" in out.stderr
