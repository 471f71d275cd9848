from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import ModelError
from app.core.local.gguf import read_gguf

if TYPE_CHECKING:
    from pathlib import Path


def test_starter_header_describes_the_model(starter_path: Path) -> None:
    header = read_gguf(starter_path)
    assert header.architecture == "llama"
    assert header.quantization == "Q4_1"
    assert header.context_length == 8192
    assert header.block_count == 30
    assert header.expected_size == starter_path.stat().st_size
    assert header.chat_template and "im_start" in header.chat_template
    # SmolLM2-135M: 30 layers x 3 KV heads x 64 dims x K+V x f16
    assert header.kv_bytes_per_token() == 2 * 30 * 3 * 64 * 2


def test_a_file_that_is_not_gguf_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("these are my notes, not a model")
    with pytest.raises(ModelError, match="not a GGUF model file"):
        read_gguf(path)


@pytest.mark.parametrize("keep", [3, 1000, 5_000_000])
def test_a_truncated_gguf_is_caught_before_llama_cpp_sees_it(
    tmp_path: Path, starter_path: Path, keep: int
) -> None:
    path = tmp_path / "cut.gguf"
    with starter_path.open("rb") as src:
        path.write_bytes(src.read(keep))
    with pytest.raises(ModelError, match=r"truncated|not a GGUF"):
        read_gguf(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        read_gguf(tmp_path / "nope.gguf")
