#!/usr/bin/env bash
# Build the PyInstaller folder dist/parley (and dist/Parley.app on macOS) from the venv.
# GPU=cuda|rocm|vulkan|metal first rebuilds llama-cpp-python in the venv with that
# backend (same CMAKE_ARGS as `make run GPU=...`) unless the venv already has it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
GPU=${GPU:-}

declare -A cmake_args=([cuda]=-DGGML_CUDA=on [rocm]=-DGGML_HIP=on [vulkan]=-DGGML_VULKAN=on
                       [metal]=-DGGML_METAL=on)
declare -A backend_lib=([cuda]=ggml-cuda [rocm]=ggml-hip [vulkan]=ggml-vulkan [metal]=ggml-metal)

if [ -n "$GPU" ]; then
  [ -n "${cmake_args[$GPU]:-}" ] || { echo "build.sh: GPU must be cuda, rocm, vulkan or metal" >&2; exit 2; }
  lib_dir=$("$BIN/python" -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("llama_cpp").origin).parent / "lib")')
  if ! ls "$lib_dir" | grep -q "${backend_lib[$GPU]}"; then
    echo "build.sh: rebuilding llama-cpp-python for $GPU (several minutes)"
    CMAKE_ARGS="${cmake_args[$GPU]}" "$BIN/python" -m pip install --quiet --force-reinstall \
      --no-cache-dir --no-deps llama-cpp-python
  fi
fi

"$BIN/python" -c 'import PyInstaller' 2>/dev/null || "$BIN/python" -m pip install --quiet 'pyinstaller>=6.10'
start=$(date +%s)
"$BIN/pyinstaller" --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/parley.spec
if [[ "$(uname -s)" == Linux ]]; then
  # Strip debug symbols, except from auditwheel-vendored libraries (<pkg>.libs/): they
  # were rewritten by patchelf and no longer load once stripped.
  find dist/parley -type f -name '*.so*' -not -path '*.libs/*' -print0 |
    xargs -0 -r strip --strip-unneeded 2>/dev/null || true
fi
echo "build.sh: dist/parley built in $(( $(date +%s) - start )) s, $(du -sm dist/parley | cut -f1) MB"
