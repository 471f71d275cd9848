from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from tests.cli.conftest import Runner

JSON_FIELDS = {"text", "conversation_id", "backend", "model", "prompt_tokens",
               "completion_tokens", "token_source", "ttft_s", "duration_s", "outcome"}  # fmt: skip


def test_chat_streams_the_answer_to_stdout(parley: Runner) -> None:
    out = parley("chat", "--max-tokens", "16", "--temperature", "0", "Say hello.")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert out.stderr == ""


def test_chat_json_carries_the_contract_fields(parley: Runner) -> None:
    out = parley("chat", "--json", "--max-tokens", "12", "What is the sky's colour?")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer.keys() >= JSON_FIELDS
    assert answer["backend"] == "local"
    assert answer["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert answer["outcome"] == "done"
    assert answer["token_source"] == "counted"
    assert 0 < answer["completion_tokens"] <= 12
    assert answer["text"].strip()


def test_stdin_prompt_system_prompt_and_continuing_a_conversation(parley: Runner) -> None:
    first = json.loads(parley("chat", "--json", "--max-tokens", "8", "--system", "Be terse.",
                              "-", stdin="Name a fruit.").stdout)  # fmt: skip
    cid = first["conversation_id"]
    second = json.loads(parley("chat", "--json", "--max-tokens", "8", "--conversation",
                               str(cid), "Another one?").stdout)  # fmt: skip
    assert second["conversation_id"] == cid
    shown = json.loads(parley("conversations", "show", str(cid), "--json").stdout)
    assert shown["system_prompt"] == "Be terse."
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "user", "assistant"]
    assert shown["messages"][0]["content"] == "Name a fruit."
    assert shown["messages"][3]["outcome"] == "done"
    assert second["prompt_tokens"] > first["prompt_tokens"]


def test_model_by_path(parley: Runner, starter_path: Path) -> None:
    out = parley("chat", "--json", "--max-tokens", "4", "--model", str(starter_path), "Hi")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["outcome"] == "done"


def test_errors_are_one_clear_line_and_a_non_zero_exit(parley: Runner, tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_text("not a model")
    cases = {
        ("chat", "--backend", "nope", "hi"): "no backend called 'nope'",
        ("chat", "--model", "ghost", "hi"): "no local model called 'ghost'",
        ("chat", "--model", str(bad), "hi"): "not a GGUF model file",
        ("chat", "--model", str(tmp_path / "missing.gguf"), "hi"): "does not exist",
        ("chat", "   "): "prompt is empty",
        ("chat", "--max-tokens", "8", "--conversation", "424242", "hi"): "no conversation 424242",
        ("conversations", "show", "999"): "no conversation 999",
    }
    for args, message in cases.items():
        out = parley(*args)
        assert out.returncode == 1, args
        assert message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "Traceback" not in out.stderr


def test_prompt_longer_than_the_context_is_an_error_exit(parley: Runner) -> None:
    out = parley("chat", "--max-tokens", "8", "-", stdin="word " * 10000)
    assert out.returncode == 1
    assert "context" in out.stderr and "Traceback" not in out.stderr
