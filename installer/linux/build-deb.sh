#!/usr/bin/env bash
# Build dist/parley_<version>_<arch>.deb and dist/parley-<version>-linux-<arch>.tar.gz
# from the PyInstaller folder dist/parley (make package).
#
# The .deb installs the app under /opt/parley, links /usr/bin/parley, and adds a
# .desktop entry and hicolor icons. It never touches the user's data
# (~/.local/share/Parley, or PARLEY_DATA_DIR): no maintainer script removes it, on
# remove or on purge. Compression: PARLEY_DEB_COMPRESS=zstd (default) | xz | gzip | none.
# zstd: 10x faster than xz here for +30 % size; every dpkg that can run this build reads it
# (the bundled libraries need glibc >= 2.36, i.e. Debian 12 / Ubuntu 22.10 or newer).
set -euo pipefail
cd "$(dirname "$0")/../.."

app_dir=${1:-dist/parley}
out_dir=${2:-dist}
[ -x "$app_dir/parley" ] || { echo "build-deb: $app_dir/parley is missing; run 'make package' first" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb is required (apt install dpkg)" >&2; exit 1; }

version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
arch=$(dpkg --print-architecture)
compress=${PARLEY_DEB_COMPRESS:-zstd}
stage=build/deb/parley_${version}_${arch}
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
         "$stage/usr/share/doc/parley" "$out_dir"

cp -a "$app_dir" "$stage/opt/parley"
# The bootloader finds its _internal folder through /proc/self/exe, so a symlink works.
ln -s /opt/parley/parley "$stage/usr/bin/parley"
install -m 644 installer/linux/parley.desktop "$stage/usr/share/applications/parley.desktop"
for size in 16 24 32 48 64 128 256 512; do
  install -D -m 644 "resources/icons/parley-$size.png" \
    "$stage/usr/share/icons/hicolor/${size}x${size}/apps/parley.png"
done
install -D -m 644 resources/icons/parley.svg "$stage/usr/share/icons/hicolor/scalable/apps/parley.svg"
cat > "$stage/usr/share/doc/parley/copyright" <<COPYRIGHT
Parley $version
Parley is MIT licensed. It bundles third-party components under their own
licenses (Qt and PySide6: LGPL-3.0; llama.cpp: MIT; and others); their texts
are in /opt/parley/_internal/resources/licenses/ and in Parley's Help > About.
COPYRIGHT

# Everything readable, directories and executables searchable; root-owned via --root-owner-group.
chmod -R u+rwX,go+rX,go-w "$stage"
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# The newest glibc symbol version any bundled binary needs.
glibc=2.31
if command -v objdump >/dev/null; then
  glibc=$(find "$stage/opt/parley" -type f \( -name '*.so*' -o -name parley \) \
          -exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' \
          | sort -uV | tail -1 || true)
  glibc=${glibc:-2.31}
fi
# A Vulkan build needs the system's Vulkan loader (the GPU drivers plug into it).
vulkan_dep=""
ls "$stage"/opt/parley/_internal/llama_cpp/lib/libggml-vulkan.* >/dev/null 2>&1 && vulkan_dep=", libvulkan1"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: parley
Version: $version
Architecture: $arch
Maintainer: Parley developers <parley@localhost>
Installed-Size: $installed_kb
Depends: libc6 (>= $glibc), libgl1, libegl1, libfontconfig1, libxkbcommon0$vulkan_dep
Section: utils
Priority: optional
Homepage: https://github.com/parley-app/parley
Recommends: mesa-vulkan-drivers
Description: chat with local and cloud LLMs and see what each answer cost
 Parley is a desktop chat application for language models running locally
 (llama.cpp, on NVIDIA, AMD and Intel GPUs through Vulkan, or the CPU) or in
 the cloud (Hugging Face Inference Providers, Mistral, any OpenAI-compatible
 endpoint), with a usage ledger, budgets and charts.
CONTROL

deb="$out_dir/parley_${version}_${arch}.deb"
level=()
[ "$compress" = xz ] && level=(-z6)
dpkg-deb --root-owner-group -Z"$compress" "${level[@]}" --build "$stage" "$deb" >/dev/null
echo "build-deb: $deb ($(du -m "$deb" | cut -f1) MB, installs $((installed_kb / 1024)) MB)"

# The tarball: the same folder, plus the .desktop file and icons, to unpack anywhere.
tar_root=build/tarball/parley-$version
rm -rf "build/tarball" && mkdir -p "$tar_root"
cp -a "$app_dir/." "$tar_root/"
mkdir -p "$tar_root/share"
cp -a "$stage/usr/share/applications" "$stage/usr/share/icons" "$tar_root/share/"
tarball="$out_dir/parley-$version-linux-$arch.tar.gz"
tar -C build/tarball -I "gzip -4" -cf "$tarball" "parley-$version"
echo "build-deb: $tarball ($(du -m "$tarball" | cut -f1) MB)"
