#!/usr/bin/env bash
# Build the PyInstaller folder dist/parley (and dist/Parley.app on macOS) from the venv.
#
# llama.cpp's backend: GPU=vulkan|cuda|rocm|metal bundles llama-cpp-python built with it by
# tools/llama-build (cached per version, kept beside the venv's CPU build, put first on
# PYTHONPATH so PyInstaller collects it); GPU=cpu bundles the venv's own build. The default
# is vulkan on Linux (NVIDIA, AMD and Intel GPUs through the system's Vulkan driver; the CPU
# when there is none) and the venv's build elsewhere (on macOS that build has Metal).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
default_gpu=cpu
[ "$(uname -s)" = Linux ] && default_gpu=vulkan
GPU=${GPU:-$default_gpu}

site=""
case "$GPU" in
  cpu) ;;
  vulkan|cuda|rocm|metal) site=$(PYTHON="$BIN/python" tools/llama-build "$GPU") ;;
  *) echo "build.sh: GPU must be cpu, vulkan, cuda, rocm or metal (got '$GPU')" >&2; exit 2 ;;
esac

"$BIN/python" -c 'import PyInstaller' 2>/dev/null || "$BIN/python" -m pip install --quiet 'pyinstaller>=6.10'
start=$(date +%s)
PYTHONPATH="$site" "$BIN/pyinstaller" --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/parley.spec
if [[ "$(uname -s)" == Linux ]]; then
  # Strip debug symbols, except from auditwheel-vendored libraries (<pkg>.libs/): they
  # were rewritten by patchelf and no longer load once stripped.
  find dist/parley -type f -name '*.so*' -not -path '*.libs/*' -print0 |
    xargs -0 -r strip --strip-unneeded 2>/dev/null || true
fi
echo "build.sh: dist/parley built with llama.cpp's $GPU backend in $(( $(date +%s) - start )) s, $(du -sm dist/parley | cut -f1) MB"
