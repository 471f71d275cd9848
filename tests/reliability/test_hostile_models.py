"""Hostile model files: the GGUF reader fuzzed (no crash, no hang, bounded memory), its
quantization table checked against the `gguf` package, and chat templates that reach for
Python objects refused before anything runs."""

from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.foundation.errors import ModelError
from app.core.local import gguf as reader
from app.core.local.chat_template import check_chat_template
from app.core.local.fit import ModelShape
from tests.helpers.gguf_files import gguf_header, llama_metadata
from tests.helpers.starter import REPO
from tests.reliability.conftest import sized
from tests.reliability.support import parley_env

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reliability.conftest import Tally

pytestmark = pytest.mark.reliability("model_files")
MEMORY_LIMIT = 96 << 20  # bytes a single header read may allocate
TIME_LIMIT_S = 2.0


def test_quantization_sizes_match_the_gguf_package(tally: Tally) -> None:
    """Regression (issue 15): Q8_1 was 36 bytes a block here and 40 in `gguf`."""
    from gguf import GGML_QUANT_SIZES

    theirs = {int(t): sizes for t, sizes in GGML_QUANT_SIZES.items()}
    ours = reader._GGML_TYPE_SIZES
    for ggml_type in sorted(set(theirs) | set(ours)):
        tally.case(lost=ours.get(ggml_type) != theirs.get(ggml_type),
                   note=f"type {ggml_type}: ours {ours.get(ggml_type)}, "
                        f"gguf {theirs.get(ggml_type)}")  # fmt: skip
    tally.check()


def _parse(data: bytes) -> Any:
    """Everything Parley does with a header it reads: parse, describe, estimate the fit."""
    header = reader.read_header(io.BytesIO(data), "fuzz.gguf", len(data))
    shape = ModelShape.from_header(header, len(data))
    return (header.quantization, header.context_length, header.block_count,
            header.chat_template, header.kv_bytes_per_token(), header.parameter_count,
            [t.nbytes for t in header.tensors], shape.n_layers, shape.bytes_per_token)  # fmt: skip


def _bounded(data: bytes) -> tuple[str, float, int]:
    """("ok" | "refused" | "crash: ...", seconds, peak bytes) of parsing `data`."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        _parse(data)
        outcome = "ok"
    except ModelError:
        outcome = "refused"
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        outcome = f"crash: {type(exc).__name__}: {exc}"[:200]
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, peak


def _record(tally: Tally, data: bytes) -> str:
    outcome, seconds, peak = _bounded(data)
    tally.case(lost=outcome.startswith("crash"),
               hung=seconds > TIME_LIMIT_S or peak > MEMORY_LIMIT,
               note=f"{outcome} in {seconds:.2f}s, {peak >> 20} MiB: {data[:48]!r}")  # fmt: skip
    return outcome


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The seed with a few numbers set to extremes (or bytes overwritten), maybe cut short."""
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.one_of(st.sampled_from(NUMBERS), st.integers(0, len(data) - 1)))
        value = draw(st.one_of(
            st.sampled_from([2**64 - 1, 2**63, 2**32 - 1, 2**31, 1 << 40, 10**9, 0, 1, 7, 8, 9,
                             13, 77]).map(lambda v: struct.pack("<Q", v)),
            st.binary(min_size=1, max_size=8),
        ))  # fmt: skip
        data[at : at + len(value)] = value
    cut = draw(st.integers(4, len(data)))
    return bytes(data[:cut])


@settings(max_examples=sized(300, 3000), deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=mutated())
def test_the_gguf_reader_survives_fuzzing(data: bytes, tally: Tally) -> None:
    outcome = _record(tally, data)
    assert not outcome.startswith("crash"), outcome
    tally.check()


@settings(max_examples=sized(100, 1000), deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096).map(lambda b: b"GGUF\x03\0\0\0" + b))
def test_random_bytes_after_the_magic(data: bytes, tally: Tally) -> None:
    outcome = _record(tally, data)
    assert not outcome.startswith("crash"), outcome
    tally.check()


def _kv(key: str, vtype: int, payload: bytes) -> bytes:
    raw = key.encode()
    return struct.pack("<Q", len(raw)) + raw + struct.pack("<I", vtype) + payload


def _file(kvs: list[bytes], tensors: bytes = b"", n_tensors: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kvs)) + b"".join(kvs) + tensors


def _nested(depth: int) -> bytes:
    inner = struct.pack("<IQ", 4, 0)  # an empty u32 array
    for _ in range(depth):
        inner = struct.pack("<IQ", 9, 1) + inner
    return inner


class _Builder:
    """Bytes, and where each number in them starts (where mutations hurt most)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.numbers: list[int] = []

    def number(self, fmt: str, value: int) -> None:
        self.numbers.append(len(self.data))
        self.data += struct.pack(fmt, value)

    def string(self, text: str) -> None:
        self.number("<Q", len(text))
        self.data += text.encode()

    def kv(self, key: str, vtype: int, value: object) -> None:
        self.string(key)
        self.number("<I", vtype)
        self.value(vtype, value)

    def value(self, vtype: int, value: object) -> None:
        if vtype == 8:
            assert isinstance(value, str)
            self.string(value)
        elif vtype == 9:
            assert isinstance(value, tuple)
            item_type, items = value
            self.number("<I", item_type)
            self.number("<Q", len(items))
            for item in items:
                self.value(item_type, item)
        else:
            assert isinstance(value, int)
            self.number("<I" if vtype == 4 else "<Q", value)


def _seed() -> tuple[bytes, list[int]]:
    """A small GGUF using every kind of field, and the offsets of its numbers."""
    b = _Builder()
    b.data += b"GGUF"
    b.number("<I", 3)
    b.number("<Q", 2)  # tensors
    kvs: list[tuple[str, int, object]] = [
        ("general.architecture", 8, "llama"), ("general.alignment", 4, 32),
        ("general.file_type", 4, 7), ("llama.context_length", 4, 2048),
        ("llama.block_count", 4, 2), ("llama.attention.head_count", 4, 4),
        ("llama.embedding_length", 4, 64), ("llama.expert_count", 4, 8),
        ("tokenizer.ggml.tokens", 9, (8, ["a", "b", "c"])),
        ("nested", 9, (9, [(4, [1]), (4, [])])),
        ("tokenizer.chat_template", 8, "{{ messages[0].content }}"),
    ]  # fmt: skip
    b.number("<Q", len(kvs))
    for key, vtype, value in kvs:
        b.kv(key, vtype, value)
    for i in range(2):
        b.string(f"blk.{i}.w")
        b.number("<I", 2)
        b.number("<Q", 64)
        b.number("<Q", 64)
        b.number("<I", 8)
        b.number("<Q", i * 4352)
    b.data += b"\0" * (-len(b.data) % 32) + b"\1" * 64
    return bytes(b.data), b.numbers


SEED, NUMBERS = _seed()
assert reader.read_header(io.BytesIO(SEED), "seed").tensors  # the seed itself parses


HOSTILE = {
    "arrays nested 100,000 deep": _file([_kv("a", 9, _nested(100_000))]),
    "a u64 array of 2**63 items": _file([_kv("a", 9, struct.pack("<IQ", 10, 2**63))]),
    "a string of 2**64-1 bytes": _file([_kv("a", 8, struct.pack("<Q", 2**64 - 1))]),
    "2**40 token strings": _file([_kv("a", 9, struct.pack("<IQ", 8, 1 << 40))]),
    "a billion empty arrays": _file([_kv("a", 9, struct.pack("<IQ", 9, 10**9)
                                         + struct.pack("<IQ", 4, 0) * 4)]),
    "alignment 0": gguf_header(llama_metadata(**{"general.alignment": 0}), [("t", (4,))])[0],
    "alignment as text": gguf_header(llama_metadata(**{"general.alignment": "x"}),
                                     [("t", (4,))])[0],
    "context length as text": gguf_header(llama_metadata(**{"llama.context_length": "8k"}),
                                          [])[0],
    "file type as text": gguf_header(llama_metadata(**{"general.file_type": "Q4"}), [])[0],
    "expert counts not numbers": gguf_header(llama_metadata(**{
        "llama.expert_count": "many", "llama.expert_used_count": math.nan}), [("t", (4,))])[0],
    "head count zero": gguf_header(llama_metadata(**{"llama.attention.head_count": 0}), [])[0],
    "a tensor of 4 billion dimensions": _file([], b"\x01\0\0\0\0\0\0\0t"
                                              + struct.pack("<I", 2**32 - 1), 1),
    "a tensor of 2**64-1 elements": _file([], b"\x01\0\0\0\0\0\0\0t" + struct.pack(
        "<IQQIQ", 2, 2**64 - 1, 2**64 - 1, 12, 0), 1),
    "an unknown value type": _file([_kv("a", 77, b"")]),
    "an array of an unknown type": _file([_kv("a", 9, struct.pack("<IQ", 99, 100))]),
}  # fmt: skip


def test_headers_built_to_hurt_are_refused_or_read(tally: Tally) -> None:
    outcomes = {name: _record(tally, data) for name, data in HOSTILE.items()}
    crashes = {k: v for k, v in outcomes.items() if v.startswith("crash")}
    assert crashes == {}
    tally.check()


# --- chat templates -------------------------------------------------------------------

REAL_TEMPLATES = {
    "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
              "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    "mistral v7": "{{- bos_token }}{%- if messages[0]['role'] == 'system' %}"
                  "{%- set system_message = messages[0]['content'] %}"
                  "{%- set loop_messages = messages[1:] %}{%- else %}"
                  "{%- set loop_messages = messages %}{%- endif %}"
                  "{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' "
                  "if system_message is defined }}"
                  "{%- for message in loop_messages %}"
                  "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                  "{{- raise_exception('Conversation roles must alternate') }}{%- endif %}"
                  "{%- if message['role'] == 'user' %}"
                  "{{- '[INST]' + message['content'] + '[/INST]' }}"
                  "{%- else %}{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}",
    "llama 3": "{% set loop_messages = messages %}{% for message in loop_messages %}"
               "{% set content = '<|start_header_id|>' + message['role'] + "
               "'<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
               "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
               "{{ content }}{% endfor %}",
    "with a namespace": "{% set ns = namespace(system='') %}{% for m in messages %}"
                        "{% if m.role == 'system' %}{% set ns.system = m.content %}{% endif %}"
                        "{% endfor %}{{ ns.system }}{{ strftime_now('%Y') }}",
}  # fmt: skip
ESCAPES = {
    "mro walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals": "{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "attr filter": "{{ (messages|attr('__class__')) }}",
    "attr built at runtime": "{{ messages|attr('_' ~ '_class__') }}",
    "item lookup": "{{ lipsum['__globals__'] }}",
    "private name": "{{ _private }}",
    "not jinja": "{% for m in messages %}{{ m.content }}",
}


def test_real_templates_pass_and_escapes_are_refused(starter_path: Path, tally: Tally) -> None:
    starter_template = reader.read_gguf(starter_path).chat_template
    assert starter_template
    for name, template in {**REAL_TEMPLATES, "starter": starter_template}.items():
        try:
            check_chat_template(template, name)
        except ModelError as exc:
            tally.case(lost=True, note=f"{name}: {exc}")
        else:
            tally.case()
    for name, template in ESCAPES.items():
        try:
            check_chat_template(template, name)
        except ModelError as exc:
            tally.case(leaked="won't run it" not in str(exc) and "not valid Jinja" not in str(exc))
        else:
            tally.case(leaked=True, note=f"{name} passed")
    tally.check()


def test_a_model_whose_template_reaches_for_python_is_refused_before_it_runs(
    data_dir: Path, starter_path: Path, tmp_path: Path, tally: Tally
) -> None:
    marker = tmp_path / "pwned"
    template = ESCAPES["globals"].replace("{marker}", str(marker))
    hostile = data_dir / "models" / "Hostile-Template-Q4_1.gguf"
    subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--force",
                    "--chat-template", template, str(starter_path), str(hostile)],
                   check=True, capture_output=True, cwd=REPO)  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "app", "chat", "--model", hostile.stem,
                          "--max-tokens", "4", "Hi"], capture_output=True, text=True,
                         cwd=REPO, env=parley_env(data_dir), timeout=120)  # fmt: skip
    refused = run.returncode == 1 and "won't run it" in run.stderr
    tally.case(leaked=marker.exists() or not refused, note=run.stderr[-300:])
    assert "Traceback" not in run.stderr
    tally.check()
