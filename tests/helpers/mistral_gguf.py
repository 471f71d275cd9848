"""A tiny Mistral Small-style GGUF built in the test session, no network needed.

Architecture llama, 2 layers, 64 wide, with the real Tekken vocabulary that
`mistral-common` ships (`tekken_240911.json` with its config set to v7, so
`[SYSTEM_PROMPT]`=17 and `[/SYSTEM_PROMPT]`=18 as in Mistral Small 3.x),
converted by `gguf.vocab.MistralVocab` as llama.cpp's own converter does.

The weights are chosen, not random, so answers are predictable: every layer
adds nothing, every token embeds to the same direction, and the output matrix
points only ANSWER_TOKEN (" ok") that way, so the model answers " ok ok ok…"
until max_tokens. ~42 MB, a few seconds to build.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

# Mistral's V7 format as `MistralTokenizer` encodes it, with the check Mistral's own
# templates make: roles must alternate user/assistant after an optional system prompt.
V7_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}"
    "{{ '[SYSTEM_PROMPT]' + messages[0]['content'] + '[/SYSTEM_PROMPT]' }}"
    "{% else %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST]' + message['content'] + '[/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)

# Gemma-style: no system role at all, and alternation checked.
NO_SYSTEM_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST]' + message['content'] + '[/INST]' }}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)

# A template that refuses everything: no fold can save it.
REFUSING_TEMPLATE = "{{ raise_exception('This model only takes tool calls') }}"

N_EMBD, N_LAYER, N_HEAD, N_FF = 64, 2, 4, 128
ANSWER_TEXT = " ok"


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """The numbers that shape a llama-architecture model's memory: width, depth, heads."""

    n_embd: int = N_EMBD
    n_layer: int = N_LAYER
    n_head: int = N_HEAD
    n_head_kv: int = N_HEAD
    head_dim: int = N_EMBD // N_HEAD  # may differ from n_embd / n_head, as in Mistral Small
    n_ff: int = N_FF
    context_length: int = 4096


TINY = Layout()


def tekken_file(folder: Path) -> Path:
    """mistral-common's bundled Tekken vocabulary as a v7 `tekken.json` in `folder`."""
    import mistral_common

    src = Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"
    data = json.loads(src.read_text(encoding="utf-8"))
    data["config"]["version"] = "v7"
    data.pop("image", None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tekken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@functools.cache
def _vocab(folder: Path) -> dict[str, Any]:
    from gguf.vocab import MistralVocab

    vocab = MistralVocab(folder)
    tokens, scores, types = [], [], []
    for text, score, kind in vocab.all_tokens():
        tokens.append(text)
        scores.append(score)
        types.append(kind)
    answer = vocab.tokenizer.encode(ANSWER_TEXT, bos=False, eos=False)
    assert len(answer) == 1, answer
    return {
        "model": vocab.gguf_tokenizer_model,
        "tokens": tokens,
        "scores": scores,
        "types": types,
        "merges": vocab.extract_vocab_merges_from_model(),
        "bos": vocab.bos_id,
        "eos": vocab.eos_id,
        "unk": vocab.unk_id,
        "pad": vocab.pad_id,
        "size": vocab.vocab_size,
        "answer": answer[0],
    }


def build_mistral_gguf(
    path: Path, template: str, tokenizer_dir: Path, layout: Layout = TINY
) -> Path:
    """Write the tiny model with `template` as its chat template to `path`.

    `layout` changes its shape (the fit bench's held-out models); the answer stays " ok".
    """
    import gguf
    import numpy as np

    v = _vocab(tokenizer_dir)
    n_embd, n_ff = layout.n_embd, layout.n_ff
    q_dim, kv_dim = layout.n_head * layout.head_dim, layout.n_head_kv * layout.head_dim
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("Mistral Tiny Test")
    w.add_context_length(layout.context_length)
    w.add_embedding_length(n_embd)
    w.add_block_count(layout.n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(layout.n_head)
    w.add_head_count_kv(layout.n_head_kv)
    if layout.head_dim != n_embd // layout.n_head:
        w.add_key_length(layout.head_dim)
        w.add_value_length(layout.head_dim)
    w.add_rope_dimension_count(layout.head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(1e6)
    w.add_vocab_size(v["size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model(v["model"])
    w.add_tokenizer_pre("tekken")
    w.add_token_list(v["tokens"])
    w.add_token_scores(v["scores"])
    w.add_token_types(v["types"])
    w.add_token_merges(v["merges"])
    w.add_bos_token_id(v["bos"])
    w.add_eos_token_id(v["eos"])
    w.add_unk_token_id(v["unk"])
    w.add_pad_token_id(v["pad"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(template)

    embed = np.zeros((v["size"], n_embd), dtype=np.float16)
    embed[:, 0] = 1.0
    output = np.zeros((v["size"], n_embd), dtype=np.float16)
    output[v["answer"], 0] = 4.0  # logit 32 for " ok", 0 for every other token
    w.add_tensor("token_embd.weight", embed)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("output.weight", output)
    shapes = {
        "attn_q": (q_dim, n_embd), "attn_k": (kv_dim, n_embd), "attn_v": (kv_dim, n_embd),
        "attn_output": (n_embd, q_dim), "ffn_gate": (n_ff, n_embd), "ffn_up": (n_ff, n_embd),
        "ffn_down": (n_embd, n_ff),
    }  # fmt: skip
    for i in range(layout.n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name, shape in shapes.items():
            w.add_tensor(f"blk.{i}.{name}.weight", np.zeros(shape, dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


class TinyMistral:
    """The session's tiny Mistral models, built on first use, one file per template."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tokenizer_file = tekken_file(folder / "tokenizer")
        self._built: dict[str, Path] = {}

    def gguf(self, template: str = V7_TEMPLATE) -> Path:
        if template not in self._built:
            path = self.folder / f"tiny-mistral-{len(self._built)}.gguf"
            self._built[template] = build_mistral_gguf(path, template, self.tokenizer_file.parent)
        return self._built[template]

    def install(self, models_dir: Path, name: str, template: str = V7_TEMPLATE) -> str:
        """Link a model with `template` into `models_dir` as `name`; returns the name."""
        import os

        models_dir.mkdir(parents=True, exist_ok=True)
        target = models_dir / f"{name}.gguf"
        if not target.exists():
            os.link(self.gguf(template), target)
        return name

    def reference(self) -> Any:
        """Mistral's own tokenizer for the same vocabulary (`MistralTokenizer`)."""
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

        return MistralTokenizer.from_file(self.tokenizer_file)
