"""llama.cpp's Vulkan backend, on Mesa's software Vulkan device (llvmpipe) where no GPU exists.

The Vulkan build of llama-cpp-python is the one `tools/llama-build vulkan` keeps beside the
CPU build (a folder put first on PYTHONPATH); each check runs in a subprocess with it.
llama.cpp skips CPU-type Vulkan devices unless GGML_VK_VISIBLE_DEVICES names them, so with
it set llvmpipe stands in for a GPU, and without it the same build falls back to the CPU.
The build needs glslc and the Vulkan loader (`.ci/run` installs them); without it these
tests skip, unless PARLEY_REQUIRE_VULKAN is set (CI), where a missing build fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow
GREEDY_TOKENS = 6
SAME_PREFIX = 3  # the Vulkan and CPU paths round differently after a few tokens
CHILD = r"""
import json, sys
from pathlib import Path
import llama_cpp
from app.core.local.catalog import describe
from app.core.local.hardware import probe
from app.core.local.llama_backend import open_llama
from app.core.local.load_guard import plan_load
from app.core.local.model_controls import ModelControls
hw = probe()
model = describe(Path(sys.argv[1]))
plan = plan_load(model, ModelControls(context_length=512), hw)
llm = open_llama(str(model.path), plan.options, verbose=True)
tokens = []
for token in llm.generate(llm.tokenize(b"The three primary colours are"), top_k=1, temp=0.0,
                          repeat_penalty=1.0):
    tokens.append(token)
    if len(tokens) == int(sys.argv[2]):
        break
print(json.dumps({"llama_cpp": llama_cpp.__file__, "hardware": hw.to_dict(),
                  "n_gpu_layers": plan.options.n_gpu_layers, "verdict": plan.fit.label,
                  "tokens": tokens, "text": llm.detokenize(tokens).decode(errors="replace")}))
"""


def vulkan_site() -> Path | None:
    """The Vulkan build's folder, if `tools/llama-build` has built it for this Python."""
    from pathlib import Path

    if override := os.environ.get("PARLEY_VULKAN_SITE"):
        return Path(override)
    proc = subprocess.run([str(REPO / "tools" / "llama-build"), "vulkan", "--check"],
                          env=dict(os.environ, PYTHON=sys.executable), capture_output=True,
                          text=True, check=False)  # fmt: skip
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


@pytest.fixture(scope="module")
def site() -> Path:
    found = vulkan_site()
    if found is None:
        message = ("No Vulkan build of llama-cpp-python: run `tools/llama-build vulkan` "
                   "(needs glslc and the Vulkan loader).")  # fmt: skip
        if os.environ.get("PARLEY_REQUIRE_VULKAN"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(model: Path, build: Path | None, visible: str | None = None) -> tuple[dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k != "GGML_VK_VISIBLE_DEVICES"}
    env["PYTHONPATH"] = os.pathsep.join([*([str(build)] if build else []), str(REPO)])
    if visible is not None:
        env["GGML_VK_VISIBLE_DEVICES"] = visible
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), str(GREEDY_TOKENS)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture(scope="module")
def cpu_answer(starter_path: Path) -> dict[str, Any]:
    answer, _ = run(starter_path, None)
    assert answer["hardware"]["backend"] == "CPU" and answer["n_gpu_layers"] == 0
    return answer


def test_the_starter_runs_on_the_vulkan_device_with_every_layer_offloaded(
    site: Path, starter_path: Path, cpu_answer: dict[str, Any]
) -> None:
    answer, log = run(starter_path, site, visible="0")
    assert answer["llama_cpp"].startswith(str(site))  # the Vulkan build, not the venv's
    hw = answer["hardware"]
    assert hw["backend"] == "Vulkan" and hw["gpu_offload"]
    [vulkan] = [d for d in hw["llama_devices"] if d["name"] == "Vulkan0"]
    assert "llvmpipe" in vulkan["description"] and vulkan["memory_total"] > 0
    assert any("llvmpipe" in d["name"] and d["memory_total"] > 0 for d in hw["vulkan_devices"])
    assert answer["verdict"] == "full GPU offload" and answer["n_gpu_layers"] == -1
    # llama.cpp's own report: every layer, and the weights, on the Vulkan device.
    offloaded = re.search(r"offloaded (\d+)/(\d+) layers to GPU", log)
    assert offloaded is not None, log[-3000:]
    assert offloaded.group(1) == offloaded.group(2) == "31"  # 30 layers + the output layer
    assert re.search(r"Vulkan0 model buffer size = +[1-9]", log), log[-3000:]
    assert re.search(r"Vulkan0 KV buffer size = +[1-9]", log), log[-3000:]
    # Greedy output starts with the same tokens as the CPU build's.
    assert len(answer["tokens"]) == GREEDY_TOKENS
    assert answer["tokens"][:SAME_PREFIX] == cpu_answer["tokens"][:SAME_PREFIX], (
        answer["text"], cpu_answer["text"])  # fmt: skip


def test_without_a_vulkan_gpu_the_same_build_runs_on_the_cpu_and_says_so(
    site: Path, starter_path: Path, cpu_answer: dict[str, Any]
) -> None:
    answer, log = run(starter_path, site)  # llvmpipe is a CPU device: llama.cpp skips it
    hw = answer["hardware"]
    assert hw["backend"] == "Vulkan" and not hw["gpu_offload"]
    assert hw["notes"] == ["This build runs llama.cpp on Vulkan, and no Vulkan GPU was found: "
                           "models run on the CPU."]  # fmt: skip
    assert answer["n_gpu_layers"] == 0 and answer["verdict"] == "CPU only"
    # llama.cpp's own "ggml_vulkan: No devices found." stays off the terminal (the note above
    # says it in Parley's words); its load report puts the weights and the KV cache on the CPU.
    assert "No devices found" not in log
    assert re.search(r"CPU_Mapped model buffer size = +[1-9]", log), log[-3000:]
    assert re.search(r"CPU KV buffer size = +[1-9]", log), log[-3000:]
    assert not re.search(r"Vulkan0 (model|KV) buffer", log)
    assert answer["tokens"] == cpu_answer["tokens"]


def test_parley_chat_on_the_vulkan_build_without_a_gpu_answers_with_a_one_line_note(
    site: Path, data_dir: Path
) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    env.pop("GGML_VK_VISIBLE_DEVICES", None)
    proc = subprocess.run([sys.executable, "-m", "app", "chat", "--json", "--max-tokens", "4",
                           "Hello"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "done"
    assert proc.stderr.strip() == ("parley: note: This build runs llama.cpp on Vulkan, and no "
                                   "Vulkan GPU was found: models run on the CPU.")  # fmt: skip


def test_parley_hardware_lists_the_vulkan_device(site: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]),
               GGML_VK_VISIBLE_DEVICES="0")  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "app", "hardware", "--json"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    hw = json.loads(proc.stdout)
    assert hw["backend"] == "Vulkan" and hw["gpu_offload"]
    assert "Vulkan0" in [d["name"] for d in hw["llama_devices"]]
    [gpu] = hw["gpus"]  # llvmpipe, as llama.cpp sees it: memory shared with the CPU
    assert "llvmpipe" in gpu["name"] and gpu["unified"] and gpu["source"] == "llama.cpp"
    text = subprocess.run(
        [sys.executable, "-m", "app", "hardware"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    assert "llama.cpp backend: Vulkan (GPU offload on)" in text
    assert re.search(r"Vulkan: +llvmpipe.*GiB", text) and "Vulkan0 (llvmpipe" in text
