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


def test_physical_cores_come_from_psutil_on_every_os() -> None:
    import psutil

    from app.core.local.hardware import physical_cores

    allowed = len(psutil.Process().cpu_affinity() or []) or psutil.cpu_count()
    assert physical_cores() == min(psutil.cpu_count(logical=False), allowed)


def test_the_vulkan_loader_lists_what_vulkaninfo_lists() -> None:
    import re
    import shutil

    import pytest

    from app.core.local.vulkan_devices import vulkan_devices

    if shutil.which("vulkaninfo") is None:
        pytest.skip("vulkaninfo (Debian: vulkan-tools) is not installed")
    out = subprocess.run(["vulkaninfo", "--summary"], capture_output=True, text=True,
                         timeout=60, check=False).stdout  # fmt: skip
    names = re.findall(r"deviceName\s*=\s*(.+)", out)
    types = re.findall(r"deviceType\s*=\s*PHYSICAL_DEVICE_TYPE_(\w+)", out)
    devices = vulkan_devices()
    assert [d.name for d in devices] == [n.strip() for n in names]
    assert [d.type for d in devices] == [t.lower().replace("_gpu", "") for t in types]
    assert all(d.memory_total > 0 and 0 < d.memory_free <= d.memory_total for d in devices)


def test_gpus_no_vendor_tool_reports_come_from_llama_cpp_or_the_vulkan_loader() -> None:
    from app.core.local.hardware import other_gpus
    from app.core.local.llama_devices import LlamaDevice
    from app.core.local.vulkan_devices import VulkanDevice

    gib = 2**30
    arc = VulkanDevice(0, "Intel(R) Arc(tm) A770 Graphics (DG2)", "discrete", "intel", "1.3.289",
                       16 * gib, 15 * gib)  # fmt: skip
    soft = VulkanDevice(1, "llvmpipe (LLVM 15.0.6, 256 bits)", "cpu", "mesa", "1.3.230",
                        2 * gib, 2 * gib)  # fmt: skip
    # A CPU build: only the loader knows the Arc; the software device is no GPU.
    [gpu] = other_gpus([arc, soft], [LlamaDevice("CPU", "AMD EPYC", "cpu", 64 * gib, 60 * gib)])
    assert (gpu.name, gpu.vendor, gpu.source, gpu.unified) == (arc.name, "intel", "vulkan", False)
    assert gpu.vram_free == 15 * gib
    # A Vulkan build: the devices llama.cpp runs layers on, with its own memory figures.
    llama = [LlamaDevice("Vulkan0", "llvmpipe (LLVM 15.0.6, 256 bits)", "gpu", gib, gib)]
    [gpu] = other_gpus([soft], llama)
    assert gpu.source == "llama.cpp" and gpu.unified and gpu.vendor == "mesa"
    assert other_gpus([soft], []) == []


def test_without_an_nvidia_driver_nvml_reports_nothing() -> None:
    import os

    import pytest

    from app.core.foundation.nvml import NvmlEnergyCounter, nvidia_devices

    if os.path.exists("/proc/driver/nvidia/version"):
        pytest.skip("this machine has an NVIDIA driver")
    assert nvidia_devices() == []
    assert NvmlEnergyCounter().read_j() is None
