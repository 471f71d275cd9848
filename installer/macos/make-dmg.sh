#!/usr/bin/env bash
# Make dist/Parley-<version>.dmg from dist/Parley.app (built by `make package` on macOS):
# a compressed disk image with the app and an /Applications link to drag it onto.
# Ad-hoc signs the bundle so Apple Silicon runs it; set CODESIGN_IDENTITY for a real one.
set -euo pipefail
cd "$(dirname "$0")/../.."
app=dist/Parley.app
[ -d "$app" ] || { echo "make-dmg: $app is missing; run 'make package' on macOS first" >&2; exit 1; }
command -v hdiutil >/dev/null || { echo "make-dmg: hdiutil is macOS-only" >&2; exit 1; }

version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
codesign --force --deep --sign "${CODESIGN_IDENTITY:--}" "$app"

stage=build/dmg
rm -rf "$stage" && mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
dmg=dist/Parley-$version.dmg
rm -f "$dmg"
hdiutil create -volname "Parley $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"
echo "make-dmg: $dmg ($(du -m "$dmg" | cut -f1) MB)"
