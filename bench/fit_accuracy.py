"""The fit estimate's predicted memory ÷ what llama.cpp really uses once the context is full.

Each case runs in a fresh process: import llama_cpp, note RSS (and GPU memory where
nvidia-smi exists), load the model exactly as chat does (`plan_load` + `open_llama` with
the case's model controls), fill the WHOLE context batch by batch, and note memory again.
The compute buffer llama.cpp reports in its log is printed beside the predicted one.

The cases are models the estimate's constants were not read from (those came from the
tiny Mistral test model and a vocabulary-less one): the starter at 2k, 4k and its full 8k
context, the starter with a q8_0 KV cache, and a GGUF built here with a different head
layout (32 query heads, 8 KV heads of 32 dims over a 256-wide model, so the head dim is not
width / heads, as in Mistral Small; Tekken's 131k vocabulary) at its full 8k context with
f16 and q8_0 caches. Each ratio must lie within 0.90-1.10; "ratio" is the worst one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from _common import REPO, report, starter_model

from app.core.local.catalog import describe, header_for
from app.core.local.fit import ModelShape, compute_buffer_bytes
from app.core.local.load_guard import current_hardware, plan_load
from app.core.local.model_controls import KVCacheType, ModelControls
from tests.helpers.mistral_gguf import Layout, build_mistral_gguf, tekken_file

LOW, HIGH = 0.90, 1.10
HELD_OUT = Layout(n_embd=256, n_layer=4, n_head=32, n_head_kv=8, head_dim=32, n_ff=512,
                  context_length=8192)  # fmt: skip

CHILD = r"""
import json, shutil, subprocess, sys
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS"))
def vram():
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True).stdout
    return sum(int(x) for x in out.split()) * 2**20 if out.strip() else None
import llama_cpp
from app.core.local.llama_backend import open_llama
from app.core.local.load_guard import LoadOptions
from app.core.local.model_controls import KVCacheType
path, raw = sys.argv[1], json.loads(sys.argv[2])
options = LoadOptions(**dict(raw, kv_cache=KVCacheType(raw["kv_cache"])))
before, vram_before = rss(), vram()
llm = open_llama(path, options, verbose=True)
loaded = rss()
text = b"The quick brown fox jumps over the lazy dog, then naps in the sun. "
tokens = llm.tokenize(text * (options.n_ctx // 8))
while len(tokens) < options.n_ctx:
    tokens += tokens
llm.eval(tokens[: options.n_ctx])  # the whole context, batch by batch
after, vram_after = rss(), vram()
print(json.dumps({"rss_load": loaded - before, "rss": after - before, "n_tokens": llm.n_tokens,
                  "vram": (vram_after - vram_before) if vram_before is not None else None}))
"""
_COMPUTE_LINE = re.compile(r"(\S+) compute buffer size =\s*([\d.]+) MiB")


def measure(path: Path, options: dict[str, object]) -> dict[str, object]:
    path_var = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(options)], cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=path_var), capture_output=True,
                          text=True, timeout=1800)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{proc.stderr[-3000:]}")
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    buffers = [float(mib) for _, mib in _COMPUTE_LINE.findall(proc.stderr)]
    result["llama_compute_mib"] = round(sum(buffers), 2) if buffers else None
    return result


def cases(folder: Path) -> list[tuple[str, Path, ModelControls]]:
    starter = starter_model()
    held_out = build_mistral_gguf(folder / "held-out-gqa.gguf", "", tekken_file(folder).parent,
                                  HELD_OUT)  # fmt: skip
    auto = ModelControls()
    return [
        ("starter 2k", starter, replace(auto, context_length=2048)),
        ("starter 4k", starter, replace(auto, context_length=4096)),
        ("starter 8k (full)", starter, replace(auto, context_length=8192)),
        ("starter 8k q8_0", starter, replace(auto, context_length=8192, kv_cache=KVCacheType.Q8_0)),
        ("held-out GQA 8k (full)", held_out, replace(auto, context_length=8192)),
        ("held-out GQA 8k q8_0", held_out,
         replace(auto, context_length=8192, kv_cache=KVCacheType.Q8_0)),
    ]  # fmt: skip


def main() -> int:
    hw = current_hardware()
    runs = []
    with tempfile.TemporaryDirectory(prefix="parley-fit-") as tmp:
        for label, path, controls in cases(Path(tmp)):
            model = describe(path)
            plan = plan_load(model, controls, hw)
            options = asdict(plan.options) | {"kv_cache": str(plan.options.kv_cache)}
            real = measure(path, options)
            used = int(real["rss"] or 0) + int(real["vram"] or 0)  # type: ignore[call-overload]
            fit = plan.fit
            shape = ModelShape.from_header(header_for(path), model.size_bytes)
            predicted_compute = compute_buffer_bytes(shape, fit.n_ctx, fit.n_batch,
                                                     fit.flash_attention)  # fmt: skip
            runs.append({
                "case": label, "n_ctx": fit.n_ctx, "kv": fit.kv_cache,
                "flash_attention": fit.flash_attention, "filled_tokens": real["n_tokens"],
                "predicted_mb": round(fit.needed_bytes / 1e6, 1),
                "measured_mb": round(used / 1e6, 1),
                "ratio": round(fit.needed_bytes / used, 3),
                "compute_predicted_mib": round(predicted_compute / 2**20, 2),
                "compute_llama_mib": real["llama_compute_mib"],
                "verdict": fit.label,
            })  # fmt: skip
            print(runs[-1], flush=True)
    worst = max((float(r["ratio"]) for r in runs), key=lambda r: abs(r - 1))  # type: ignore[arg-type]
    passed = all(LOW <= float(r["ratio"]) <= HIGH for r in runs)  # type: ignore[arg-type]
    report({"bench": "fit_accuracy", "ratio": worst, "target": f"{LOW}-{HIGH}", "pass": passed},
           backend=hw.backend, runs=runs)  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
