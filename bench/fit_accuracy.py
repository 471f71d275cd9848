"""The fit estimate's predicted memory ÷ what llama.cpp really uses, for the starter model.

For each context (2k, 4k, 8k) a fresh process imports llama_cpp, notes its
RSS, loads the model with Parley's load options and evaluates one full
512-token batch (what the first real prompt does), then notes RSS again (and
GPU memory in use, where nvidia-smi exists). The estimate comes from
`app.core.local.fit` on this machine's probe. The last line is the JSON verdict;
"ratio" is the worst of the three.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.local.fit import ModelShape, estimate  # noqa: E402
from app.core.local.gguf import read_gguf  # noqa: E402
from app.core.local.hardware import probe  # noqa: E402
from tests.helpers.starter import starter_model  # noqa: E402

CONTEXTS = (2048, 4096, 8192)
LOW, HIGH = 0.85, 1.15

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
from app.core.local.llama_backend import N_BATCH, default_load_options
path, n_ctx = sys.argv[1], int(sys.argv[2])
opts = default_load_options(n_ctx)
before, vram_before = rss(), vram()
llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=N_BATCH, n_gpu_layers=opts.n_gpu_layers,
                      n_threads=opts.n_threads, flash_attn=opts.flash_attn, verbose=False)
loaded = rss()
llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog. " * 60)[:N_BATCH])
after, vram_after = rss(), vram()
print(json.dumps({"rss_load": loaded - before, "rss": after - before,
                  "vram": (vram_after - vram_before) if vram_before is not None else None}))
"""


def measure(path: Path, n_ctx: int) -> dict[str, int | None]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(n_ctx)], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    result: dict[str, int | None] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    path = starter_model()
    shape = ModelShape.from_header(read_gguf(path), path.stat().st_size)
    hw = probe()
    runs = []
    for n_ctx in CONTEXTS:
        real = measure(path, n_ctx)
        used = int(real["rss"] or 0) + int(real["vram"] or 0)
        fit = estimate(shape, hw, n_ctx)
        ratio = fit.needed_bytes / used
        runs.append({"n_ctx": n_ctx, "predicted_mb": round(fit.needed_bytes / 1e6, 1),
                     "measured_mb": round(used / 1e6, 1),
                     "rss_after_load_mb": round(int(real["rss_load"] or 0) / 1e6, 1),
                     "vram_mb": round(real["vram"] / 1e6, 1) if real["vram"] else None,
                     "ratio": round(ratio, 3), "verdict": fit.label})  # fmt: skip
        print(runs[-1], flush=True)
    worst = max((r["ratio"] for r in runs), key=lambda r: abs(float(r) - 1))  # type: ignore[arg-type]
    print(json.dumps({
        "bench": "fit_accuracy", "ratio": worst, "target": f"{LOW}-{HIGH}",
        "pass": all(LOW <= float(r["ratio"]) <= HIGH for r in runs),  # type: ignore[arg-type]
        "model": path.name, "backend": hw.backend, "runs": runs,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
