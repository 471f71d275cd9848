"""Parley's download throughput from a local hub ÷ curl's on the same file, same run.

The hub (tests/helpers/hub_server.py) runs in its own process on 127.0.0.1 and
redirects /resolve/ to its CDN path like huggingface.co. Each round downloads
the file once with curl and once with Parley's `download_file` (SHA-256 hashed
while streaming, GGUF header checked, moved into place); rounds alternate and
the medians are compared. Two settings: loopback at full speed (CPU-bound:
Parley hashes every byte, curl does not) and a 1 Gbit/s link (125 MB/s,
faster than most connections to the hub), where the network is the limit as
in real use. The last line is the JSON verdict; "ratio" is the full-speed one.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import report  # noqa: E402

from app.core.local import hub  # noqa: E402
from app.core.local.downloads.transfer import download_file  # noqa: E402
from tests.helpers.starter import starter_model  # noqa: E402

REPO = "bench/Download-GGUF"
COPIES = 4  # the starter model 4 times over: ~390 MB
ROUNDS = 3
LINK_RATE = 125e6


def make_file(folder: Path) -> Path:
    data = starter_model().read_bytes()
    path = folder / "bench-Q4_1.gguf"
    with path.open("wb") as f:
        f.write(data)  # a valid GGUF header first; the rest is payload
        for _ in range(COPIES - 1):
            f.write(data)
    return path


def sha256_mb_s() -> float:
    """How fast this CPU hashes: an upper bound for any download that hashes as it streams."""
    data = os.urandom(64 << 20)
    start = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    return len(data) / (time.perf_counter() - start) / 1e6


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_curl(url: str, dest: Path) -> tuple[float, float]:
    cpu = children_cpu()
    start = time.perf_counter()
    subprocess.run(["curl", "-sSL", "--fail", "-o", str(dest), url], check=True)
    wall = time.perf_counter() - start
    dest.unlink()
    return wall, (children_cpu() - cpu) / wall


def run_parley(info: hub.RemoteFile, models: Path) -> tuple[float, float]:
    cpu = time.process_time()
    start = time.perf_counter()
    result = download_file(REPO, info, models, threading.Event())
    wall = time.perf_counter() - start
    assert result is not None and result.sha256 == info.sha256
    result.path.unlink()
    for marker in models.glob(".*.verified"):
        marker.unlink()
    return wall, (time.process_time() - cpu) / wall


def measure(big: Path, work: Path, rate: float | None) -> dict[str, object]:
    args = [sys.executable, "-m", "tests.helpers.hub_server"]
    args += ["--rate", str(rate)] if rate else []
    server = subprocess.Popen([*args, REPO, str(big)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert server.stdout is not None
        os.environ["HF_ENDPOINT"] = server.stdout.readline().strip()
        info = hub.file_info(REPO, big.name)
        url = hub.resolve_url(REPO, big.name)
        curl, parley = [], []
        for _ in range(ROUNDS):
            curl.append(run_curl(url, work / "curl.out"))
            parley.append(run_parley(info, work / "models"))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
    size = big.stat().st_size
    curl_mbs = statistics.median(size / w / 1e6 for w, _ in curl)
    parley_mbs = statistics.median(size / w / 1e6 for w, _ in parley)
    return {
        "curl_mb_s": round(curl_mbs, 1),
        "parley_mb_s": round(parley_mbs, 1),
        "ratio": round(parley_mbs / curl_mbs, 3),
        "parley_cpu_cores": round(statistics.median(c for _, c in parley), 2),
        "curl_cpu_cores": round(statistics.median(c for _, c in curl), 2),
    }


def main() -> None:
    if shutil.which("curl") is None:
        sys.exit("bench/download.py needs curl")
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        work = Path(tmp)
        (work / "models").mkdir()
        big = make_file(work)
        size_mb = round(big.stat().st_size / 1e6)
        full = measure(big, work, None)
        print(f"loopback, full speed: {full}", flush=True)
        link = measure(big, work, LINK_RATE)
        print(f"1 Gbit/s link: {link}", flush=True)
    ratio = float(full["ratio"])  # type: ignore[arg-type]
    report(
        {"bench": "download", "ratio": ratio, "target": ">= 0.90", "pass": ratio >= 0.90},
        file_mb=size_mb, full_speed=full, link_1gbit=link, ratio_1gbit=link["ratio"],
        sha256_mb_s=round(sha256_mb_s(), 1),
        cpu_note="parley_cpu_cores = process CPU seconds per wall second while downloading "
                 "(hashing SHA-256 as bytes arrive, no second pass)",
    )  # fmt: skip


if __name__ == "__main__":
    main()
