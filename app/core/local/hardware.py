"""What this machine has, as far as local inference cares.

`probe()` gathers CPU cores and RAM (`psutil`, on every OS), GPUs (NVIDIA through
NVML with nvidia-smi as a fallback, AMD through sysfs or rocm-smi, Apple Silicon
unified memory through sysctl, any other GPU through Vulkan), every Vulkan device
with its memory, and the backend and devices of this llama.cpp build. Every probe is
best effort: a missing tool means "not found", never an error.
"""

from __future__ import annotations

import logging
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from app.core.local.llama_devices import (
    LlamaDevice,
    llama_backends,
    llama_devices,
    quiet_llama_log,
)
from app.core.local.vulkan_devices import VulkanDevice, vulkan_devices

logger = logging.getLogger(__name__)

GIB = 1024**3
_TOOL_TIMEOUT_S = 5.0
# Typical main-memory bandwidth (GB/s) when nothing better is known: dual-channel DDR4/DDR5.
DEFAULT_CPU_BANDWIDTH_GBS = 60.0
DEFAULT_GPU_BANDWIDTH_GBS = {"nvidia": 400.0, "amd": 400.0, "apple": 100.0}

# Memory bandwidth (GB/s) by GPU / chip name, longest match first. Vendor data sheets.
_BANDWIDTH_GBS: dict[str, float] = {
    "RTX 5090": 1792, "RTX 5080": 960, "RTX 5070 Ti": 896, "RTX 5070": 672,
    "RTX 4090": 1008, "RTX 4080": 717, "RTX 4070 Ti": 504, "RTX 4070": 504,
    "RTX 4060 Ti": 288, "RTX 4060": 272, "RTX 3090": 936, "RTX 3080": 760,
    "RTX 3070": 448, "RTX 3060": 360, "H200": 4800, "H100 PCIe": 2000, "H100": 3350,
    "A100": 1555, "L40": 864, "L4": 300, "T4": 320, "A6000": 768, "A10": 600,
    "MI300X": 5300, "MI250": 3277, "7900 XTX": 960, "7900 XT": 800, "7800 XT": 624,
    "6900 XT": 512, "6800 XT": 512, "M1 Ultra": 800, "M1 Max": 400, "M1 Pro": 200,
    "M1": 68, "M2 Ultra": 800, "M2 Max": 400, "M2 Pro": 200, "M2": 100,
    "M3 Ultra": 819, "M3 Max": 400, "M3 Pro": 150, "M3": 100, "M4 Max": 546,
    "M4 Pro": 273, "M4": 120,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class GPU:
    name: str
    vendor: str  # nvidia | amd | apple
    vram_total: int  # bytes
    vram_free: int  # bytes
    bandwidth_gbs: float
    source: str  # how we found it: nvml, nvidia-smi, sysfs, rocm-smi, sysctl, llama.cpp, vulkan
    unified: bool = False  # Apple Silicon, integrated and software GPUs: GPU memory is RAM


@dataclass(frozen=True, slots=True)
class Hardware:
    os: str
    cpu: str
    physical_cores: int
    logical_cores: int
    ram_total: int
    ram_available: int
    cpu_bandwidth_gbs: float
    gpus: tuple[GPU, ...] = ()
    backend: str = "CPU"  # llama.cpp backend of this build: CPU, CUDA, ROCm/HIP, Vulkan, Metal
    gpu_offload: bool = False
    notes: tuple[str, ...] = field(default=())
    vulkan_devices: tuple[VulkanDevice, ...] = ()  # what the system's Vulkan loader lists
    llama_devices: tuple[LlamaDevice, ...] = ()  # what this llama.cpp build can run layers on

    @property
    def vram_free(self) -> int:
        return sum(g.vram_free for g in self.gpus)

    @property
    def vram_total(self) -> int:
        return sum(g.vram_total for g in self.gpus)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@cache
def physical_cores() -> int:
    """Physical cores available to us; llama.cpp runs best with one thread per core.

    psutil counts physical cores on Linux, Windows and macOS alike (hyper-threads would
    oversubscribe llama.cpp's threads); CPU affinity, where the OS has it, caps the count.
    """
    import psutil

    physical = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    try:
        allowed = len(psutil.Process().cpu_affinity() or [])
    except (AttributeError, psutil.Error, OSError):  # macOS has no affinity
        allowed = 0
    return max(1, min(physical, allowed) if allowed else physical)


def logical_cores() -> int:
    import psutil

    try:
        return len(psutil.Process().cpu_affinity() or []) or psutil.cpu_count() or 1
    except (AttributeError, psutil.Error, OSError):
        return psutil.cpu_count() or 1


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build has a GPU backend (CUDA, ROCm, Vulkan, Metal)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def llama_backend() -> tuple[str, bool]:
    """The GPU backend compiled into this llama.cpp build, and whether it can offload
    (a GPU backend with no device of its own, e.g. Vulkan without a GPU, cannot)."""
    quiet_llama_log()
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        offload = bool(llama_cpp.llama_supports_gpu_offload())
    except (ImportError, OSError, AttributeError) as exc:
        logger.warning("llama.cpp is not usable: %s", exc)
        return "none (llama.cpp missing)", False
    backends = [b for b in llama_backends() or [] if b not in ("CPU", "BLAS", "RPC")]
    names = {"CUDA": "CUDA", "ROCm": "ROCm/HIP", "HIP": "ROCm/HIP", "Vulkan": "Vulkan",
             "Metal": "Metal", "MTL": "Metal", "SYCL": "SYCL"}  # fmt: skip
    from_registry = " + ".join(dict.fromkeys(names.get(b, b) for b in backends))
    return from_registry or backend_from_system_info(info), offload


def backend_from_system_info(info: str) -> str:
    found = [
        label
        for key, label in (("CUDA", "CUDA"), ("HIP", "ROCm/HIP"), ("ROCm", "ROCm/HIP"),
                           ("Vulkan", "Vulkan"), ("Metal", "Metal"), ("SYCL", "SYCL"))
        if re.search(rf"\b{key}\s*:", info, re.IGNORECASE)
    ]  # fmt: skip
    return " + ".join(dict.fromkeys(found)) or "CPU"


def bandwidth_for(name: str, vendor: str) -> float:
    for key in sorted(_BANDWIDTH_GBS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(key)}\b", name, re.IGNORECASE):
            return float(_BANDWIDTH_GBS[key])
    return DEFAULT_GPU_BANDWIDTH_GBS.get(vendor, 400.0)


def _run(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.info("%s failed: %s", cmd[0], exc)
        return None
    return proc.stdout if proc.returncode == 0 else None


# --- CPU and RAM -------------------------------------------------------------


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        out = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if out:
            return out.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def memory() -> tuple[int, int]:
    """(total, available) system RAM in bytes (psutil, on every OS)."""
    import psutil

    vm = psutil.virtual_memory()
    return int(vm.total), int(vm.available)


# --- GPUs --------------------------------------------------------------------


def nvidia_gpus() -> list[GPU]:
    query = ["nvidia-smi", "--query-gpu=name,memory.total,memory.free",
             "--format=csv,noheader,nounits"]  # fmt: skip
    return _nvml_gpus() or parse_nvidia_smi(_run(query) or "")


def _nvml_gpus() -> list[GPU]:
    from app.core.foundation.nvml import nvidia_devices

    return [GPU(d.name, "nvidia", d.memory_total, d.memory_free,
                d.bandwidth_gbs or bandwidth_for(d.name, "nvidia"), "nvml")
            for d in nvidia_devices()]  # fmt: skip


def parse_nvidia_smi(out: str) -> list[GPU]:
    """Parse nvidia-smi's `name, memory.total, memory.free` CSV (MiB, no header, no units)."""
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        try:
            total, free = int(float(parts[1])) * 1024**2, int(float(parts[2])) * 1024**2
        except ValueError:
            continue
        gpus.append(GPU(parts[0], "nvidia", total, free, bandwidth_for(parts[0], "nvidia"),
                        "nvidia-smi"))  # fmt: skip
    return gpus


def amd_gpus(sysfs: Path = Path("/sys/class/drm")) -> list[GPU]:
    """AMD GPUs from sysfs (amdgpu exposes VRAM totals); rocm-smi as a fallback."""
    gpus = []
    for card in sorted(sysfs.glob("card[0-9]*")) if sysfs.is_dir() else []:
        device = card / "device"
        try:
            if (device / "vendor").read_text().strip() != "0x1002":
                continue
            total = int((device / "mem_info_vram_total").read_text())
            used = int((device / "mem_info_vram_used").read_text())
        except (OSError, ValueError):
            continue
        name = _amd_name(device)
        gpus.append(GPU(name, "amd", total, max(0, total - used), bandwidth_for(name, "amd"),
                        "sysfs"))  # fmt: skip
    return gpus or parse_rocm_smi(_run(["rocm-smi", "--showmeminfo", "vram", "--csv"]) or "")


def _amd_name(device: Path) -> str:
    try:
        return (device / "product_name").read_text().strip() or "AMD GPU"
    except OSError:
        return "AMD GPU"


def parse_rocm_smi(out: str) -> list[GPU]:
    """Parse `rocm-smi --showmeminfo vram --csv` (device, total and used VRAM in bytes)."""
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    if len(lines) < 2:
        return []
    header = [h.strip().lower() for h in lines[0].split(",")]
    try:
        t_col = next(i for i, h in enumerate(header) if "total memory" in h)
        u_col = next(i for i, h in enumerate(header) if "used memory" in h)
    except StopIteration:
        return []
    gpus = []
    for line in lines[1:]:
        cells = line.split(",")
        try:
            total, used = int(cells[t_col]), int(cells[u_col])
        except (ValueError, IndexError):
            continue
        gpus.append(GPU(f"AMD GPU ({cells[0].strip()})", "amd", total, max(0, total - used),
                        DEFAULT_GPU_BANDWIDTH_GBS["amd"], "rocm-smi"))  # fmt: skip
    return gpus


def apple_gpus(ram_total: int, ram_available: int) -> list[GPU]:
    """Apple Silicon: the GPU shares RAM; macOS lets it wire about 75 % of it."""
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    chip = (_run(["sysctl", "-n", "machdep.cpu.brand_string"]) or "Apple Silicon").strip()
    budget = int(ram_total * 0.75)
    return [GPU(chip, "apple", budget, min(budget, ram_available), bandwidth_for(chip, "apple"),
                "sysctl", unified=True)]  # fmt: skip


def cpu_bandwidth(cpu: str, gpus: list[GPU]) -> float:
    unified = next((g for g in gpus if g.unified), None)
    return unified.bandwidth_gbs if unified else DEFAULT_CPU_BANDWIDTH_GBS


def other_gpus(vulkan: list[VulkanDevice], llama: list[LlamaDevice]) -> list[GPU]:
    """GPUs no vendor tool reported (Intel, or any GPU on a machine without them): the GPUs
    this llama.cpp build runs layers on, else the Vulkan loader's real GPUs (so the probe
    can say a GPU build would use them). Integrated and software (CPU-type) devices share
    the system's RAM."""
    by_name = {d.name: d for d in vulkan}
    gpus = []
    for dev in llama:
        if dev.type not in ("gpu", "igpu"):
            continue
        match = next((v for name, v in by_name.items() if dev.description.startswith(name[:20])),
                     None)  # fmt: skip
        vendor = match.vendor if match else "gpu"
        unified = dev.type == "igpu" or (match is not None and match.type in ("cpu", "integrated"))
        gpus.append(GPU(dev.description, vendor, dev.memory_total, dev.memory_free,
                        bandwidth_for(dev.description, vendor), "llama.cpp", unified))  # fmt: skip
    if gpus:
        return gpus
    return [GPU(v.name, v.vendor, v.memory_total, v.memory_free, bandwidth_for(v.name, v.vendor),
                "vulkan", v.type == "integrated")
            for v in vulkan if v.type in ("discrete", "integrated")]  # fmt: skip


def probe() -> Hardware:
    """Everything at once (hundreds of ms when nvidia-smi runs: call it off the GUI thread)."""
    total, available = memory()
    gpus = nvidia_gpus() + amd_gpus() + apple_gpus(total, available)
    backend, offload = llama_backend()
    vulkan = vulkan_devices()
    devices = llama_devices()
    if not gpus:
        gpus = other_gpus(vulkan, devices)
    notes = []
    if "Vulkan" in backend and not offload:
        notes.append("This build runs llama.cpp on Vulkan, and no Vulkan GPU was found: "
                     "models run on the CPU.")  # fmt: skip
    elif gpus and not offload:
        notes.append(
            "This build of llama.cpp has no GPU backend, so models run on the CPU. "
            "Use Parley's Vulkan build (the Linux package, or make run GPU=vulkan), or "
            "rebuild for your GPU (make run GPU=cuda|rocm|metal)."
        )
    cpu = cpu_name()
    return Hardware(
        os=f"{platform.system()} {platform.release()}",
        cpu=cpu,
        physical_cores=physical_cores(),
        logical_cores=logical_cores(),
        ram_total=total,
        ram_available=available,
        cpu_bandwidth_gbs=cpu_bandwidth(cpu, gpus),
        gpus=tuple(gpus),
        backend=backend,
        gpu_offload=offload,
        notes=tuple(notes),
        vulkan_devices=tuple(vulkan),
        llama_devices=tuple(devices),
    )


def summary_lines(hw: Hardware) -> list[str]:
    """What was detected, one line per item, as `parley hardware` and the Models tab show it."""
    lines = [
        f"OS:       {hw.os}",
        f"CPU:      {hw.cpu} ({hw.physical_cores} cores, {hw.logical_cores} threads)",
        f"RAM:      {hw.ram_total / 2**30:.1f} GiB, {hw.ram_available / 2**30:.1f} GiB available",
        f"llama.cpp backend: {hw.backend} (GPU offload {'on' if hw.gpu_offload else 'off'})",
    ]
    if not hw.gpus:
        lines.append("GPUs:     none found")
    for g in hw.gpus:
        kind = "unified memory" if g.unified else "VRAM"
        lines.append(
            f"GPU:      {g.name}: {g.vram_total / 2**30:.1f} GiB {kind}, "
            f"{g.vram_free / 2**30:.1f} GiB free, ~{g.bandwidth_gbs:.0f} GB/s (via {g.source})"
        )
    for v in hw.vulkan_devices:
        lines.append(f"Vulkan:   {v.name} ({v.type}, {v.vendor}): "
                     f"{v.memory_total / 2**30:.1f} GiB, {v.memory_free / 2**30:.1f} GiB free, "
                     f"Vulkan {v.api_version}")  # fmt: skip
    on = [f"{d.name} ({d.description})" for d in hw.llama_devices if d.type != "cpu"]
    lines.append(f"llama.cpp devices: {', '.join(on) or 'CPU only'}")
    lines.append(f"Speed estimates assume ~{hw.cpu_bandwidth_gbs:.0f} GB/s of RAM bandwidth.")
    lines.extend(f"Note:     {n}" for n in hw.notes)
    return lines


_probe_cache: Hardware | None = None


def cached_probe(refresh: bool = False) -> Hardware:
    global _probe_cache
    if _probe_cache is None or refresh:
        _probe_cache = probe()
    return _probe_cache
