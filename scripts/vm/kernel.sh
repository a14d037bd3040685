#!/usr/bin/env bash
# Fetches the Debian kernel the test VMs boot, into .tools/vm/kernel/ (git ignores .tools/):
# the package linux-image-amd64 currently points at, downloaded with `apt-get download` and
# unpacked with dpkg-deb. Keeps only what a VM needs: vmlinuz, and overlay.ko (overlayfs is a
# module in Debian's kernel; every other feature the tests use is built in).
# Idempotent: prints the kernel directory and does nothing more when it is already there.
#
#   scripts/vm/kernel.sh            fetch if missing, print the directory
#   scripts/vm/kernel.sh --check    exit 1 (printing nothing) if it is missing, fetch nothing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$ROOT/.tools/vm/kernel"

if [[ -f "$DIR/vmlinuz" && -f "$DIR/overlay.ko" && -f "$DIR/version" ]]; then
  echo "$DIR"
  exit 0
fi
[[ "${1:-}" == "--check" ]] && exit 1

# linux-image-amd64 is the metapackage; its dependency names the current ABI package.
resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
pkg="$(resolve)"
if [[ -z "$pkg" ]]; then
  apt-get update -qq
  pkg="$(resolve)"
fi
[[ -n "$pkg" ]] || { echo "kernel: cannot resolve linux-image-amd64 from the apt index" >&2; exit 1; }

work="$(mktemp -d "$ROOT/.tools/vm-kernel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq "$pkg" 2>&1 | grep -v "couldn't be accessed by user '_apt'" >&2 || true)
deb="$(ls "$work"/*.deb 2>/dev/null | head -1)"
[[ -n "$deb" ]] || { echo "kernel: apt-get download $pkg produced no .deb" >&2; exit 1; }
dpkg-deb -x "$deb" "$work/x"
vmlinuz="$(ls "$work"/x/boot/vmlinuz-* | head -1)"
overlay="$(find "$work/x/lib/modules" -name 'overlay.ko*' | head -1)"
[[ -n "$vmlinuz" && -n "$overlay" ]] || { echo "kernel: $pkg has no vmlinuz or overlay module" >&2; exit 1; }
mkdir -p "$work/out"
cp "$vmlinuz" "$work/out/vmlinuz"
case "$overlay" in
  *.xz) xz -dc "$overlay" >"$work/out/overlay.ko" ;;
  *.zst) zstd -qdc "$overlay" >"$work/out/overlay.ko" ;;
  *) cp "$overlay" "$work/out/overlay.ko" ;;
esac
echo "$pkg $(dpkg-deb -f "$deb" Version)" >"$work/out/version"
rm -rf "$DIR"
mkdir -p "$(dirname "$DIR")"
mv "$work/out" "$DIR"
echo "$DIR"
