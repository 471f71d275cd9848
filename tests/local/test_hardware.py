"""Hardware probing: parsers for each vendor's tool, and the real probe on this machine."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from app.core.local.hardware import (
    amd_gpus,
    backend_from_system_info,
    bandwidth_for,
    parse_nvidia_smi,
    parse_rocm_smi,
    probe,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_nvidia_smi_csv() -> None:
    out = "NVIDIA GeForce RTX 4090, 24564, 23012\nNVIDIA H100 PCIe, 81559, 80000\n"
    gpus = parse_nvidia_smi(out)
    assert [g.name for g in gpus] == ["NVIDIA GeForce RTX 4090", "NVIDIA H100 PCIe"]
    assert gpus[0].vram_total == 24564 * 2**20 and gpus[0].vram_free == 23012 * 2**20
    assert gpus[0].bandwidth_gbs == 1008 and gpus[1].bandwidth_gbs == 2000
    assert parse_nvidia_smi("") == [] and parse_nvidia_smi("garbage") == []


def test_rocm_smi_csv() -> None:
    out = "device,VRAM Total Memory (B),VRAM Total Used Memory (B)\ncard0,25753026560,1073741824\n"
    [gpu] = parse_rocm_smi(out)
    assert gpu.vendor == "amd" and gpu.vram_free == 25753026560 - 1073741824


def test_amd_sysfs(tmp_path: Path) -> None:
    device = tmp_path / "card0" / "device"
    device.mkdir(parents=True)
    (device / "vendor").write_text("0x1002\n")
    (device / "mem_info_vram_total").write_text(str(24 * 2**30))
    (device / "mem_info_vram_used").write_text(str(2**30))
    (device / "product_name").write_text("Radeon RX 7900 XTX\n")
    nvidia = tmp_path / "card1" / "device"
    nvidia.mkdir(parents=True)
    (nvidia / "vendor").write_text("0x10de\n")
    [gpu] = amd_gpus(tmp_path)
    assert gpu.name == "Radeon RX 7900 XTX" and gpu.bandwidth_gbs == 960
    assert gpu.vram_free == 23 * 2**30 and gpu.source == "sysfs"


def test_backend_from_llama_system_info() -> None:
    assert backend_from_system_info("CPU : SSE3 = 1 | AVX = 1 |") == "CPU"
    assert backend_from_system_info("CUDA : ARCHS = 890 | CPU : AVX2 = 1") == "CUDA"
    assert backend_from_system_info("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1") == "Metal"
    assert backend_from_system_info("Vulkan : x | CPU : y") == "Vulkan"
    assert bandwidth_for("Apple M4 Max", "apple") == 546
    assert bandwidth_for("Apple M4", "apple") == 120


def test_probe_this_machine() -> None:
    hw = probe()
    assert hw.ram_total > hw.ram_available > 0
    assert hw.physical_cores >= 1 and hw.cpu
    assert hw.backend in ("CPU", "CUDA", "ROCm/HIP", "Vulkan", "Metal") or "+" in hw.backend


def test_hardware_command_json() -> None:
    out = subprocess.run([sys.executable, "-m", "app", "hardware", "--json"], capture_output=True,
                         text=True, check=True, timeout=60)  # fmt: skip
    data = json.loads(out.stdout)
    assert data["ram_total"] > 0 and "gpus" in data and "backend" in data
    text = subprocess.run([sys.executable, "-m", "app", "hardware"], capture_output=True,
                          text=True, check=True, timeout=60).stdout  # fmt: skip
    assert "llama.cpp backend:" in text and "RAM:" in text
