#!/usr/bin/env bash
# The cgroup v2 VM test: boots Debian's kernel in QEMU with a pure cgroup2 hierarchy
# (cgroup_no_v1=all) and runs swiftlet-cgroup2-check there, which drives the real runtime
# (LinuxRuntime, pause, swiftlet-shim, a busybox container) and the CgroupV2 driver against
# the kernel's cgroup2 file system. For hosts whose own hierarchy is v1 or hybrid.
#
#   scripts/vm/cgroup2-check.sh [--accel auto|kvm|tcg] [--timeout SECONDS] [--bin-dir DIR]
#
# The VM: the kernel from scripts/vm/kernel.sh, an initramfs (busybox-static, the payload,
# pause, swiftlet-shim, GNU tar and sha256sum, and the shared libraries ldd lists for them),
# 2 vCPUs, 1.5 GiB, no network (-nic none), no disk. KVM when /dev/kvm opens and is backed by
# kvm_intel or kvm_amd, TCG otherwise (see --accel auto below).
# Serial port 1 carries the console, serial port 2 only the payload's result lines, which
# this script prints on stdout ("ok <check> …", "fail <check>: …", "done <ok> <fail>").
# Everything else goes to stderr. Exit status: 0 all checks passed, 1 a check failed,
# 2 the VM did not finish (the console log is printed).
#
# Binaries come from --bin-dir, else $SWIFTLET_BIN_DIR, else .build/debug. The initramfs is
# assembled in a temp directory that is removed at exit (KEEP_VM_WORK=1 keeps it, with the
# console log); qemu is bounded by --timeout (default 240 s) and killed by pid if it outlives it,
# after an NMI through its monitor socket has made the guest kernel print every task's state and
# every CPU's backtrace on the console, which is then printed whole.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ACCEL=auto
TIMEOUT=240
BIN_DIR="${SWIFTLET_BIN_DIR:-$ROOT/.build/debug}"
while (($#)); do
  case "$1" in
    --accel) ACCEL="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    *) echo "cgroup2-check: unknown option $1 (known: --accel, --timeout, --bin-dir)" >&2; exit 2 ;;
  esac
done
say() { echo "vm: $*" >&2; }

QEMU="$(command -v qemu-system-x86_64 || true)"
[[ -n "$QEMU" ]] || { echo "cgroup2-check: qemu-system-x86_64 not found (apt-get install qemu-system-x86)" >&2; exit 2; }
KERNEL="$(bash "$ROOT/scripts/vm/kernel.sh")"
for b in swiftlet-cgroup2-check swiftlet-shim pause; do
  [[ -x "$BIN_DIR/$b" ]] || { echo "cgroup2-check: $BIN_DIR/$b missing (swift build first)" >&2; exit 2; }
done

case "$ACCEL" in
  # KVM from kvm_intel/kvm_amd only: a host whose /dev/kvm is PVM (kvm_pvm, as on the build
  # machines) runs stock kernels so slowly that Debian's does not get past its real-mode setup
  # in minutes, and `-cpu host` trips over an MSR there; TCG boots it in seconds.
  auto) if (exec 3<>/dev/kvm) 2>/dev/null && [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
          ACCEL=kvm
        else
          ACCEL=tcg
        fi ;;
  kvm | tcg) ;;
  *) echo "cgroup2-check: --accel must be auto, kvm or tcg" >&2; exit 2 ;;
esac
if [[ $ACCEL == kvm ]]; then ACCEL_ARGS=(-accel kvm -cpu host); else ACCEL_ARGS=(-accel tcg -cpu max); fi

WORK="$(mktemp -d /tmp/swiftlet-vm.XXXXXX)"
QEMU_PID=
cleanup() {
  if [[ -n "$QEMU_PID" ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill -KILL "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
  fi
  [[ -n "${KEEP_VM_WORK:-}" ]] && echo "vm: kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# ---------------------------------------------------------------- initramfs
t0=$SECONDS
R="$WORK/root"
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,run,newroot,var/lib,var/log,opt/swiftlet/bin,lib/modules,usr/bin}
cp /bin/busybox "$R/bin/busybox"
for a in sh mount umount mkdir cp switch_root insmod poweroff cat echo timeout sleep ls hostname ip cut; do
  ln -s busybox "$R/bin/$a"
done
# debug info is most of a debug build and nothing the VM needs
for b in swiftlet-cgroup2-check swiftlet-shim pause; do
  strip --strip-debug -o "$R/opt/swiftlet/bin/$b" "$BIN_DIR/$b" 2>/dev/null || cp "$BIN_DIR/$b" "$R/opt/swiftlet/bin/$b"
  chmod 0755 "$R/opt/swiftlet/bin/$b"
done
cp "$(command -v tar)" "$R/usr/bin/tar"
cp "$(command -v sha256sum)" "$R/usr/bin/sha256sum"
cp "$KERNEL/overlay.ko" "$R/lib/modules/overlay.ko"
# Each shared library at the path the host resolved it to (RUNPATHs and the loader's default
# directories then find it in the VM too), the loader included.
for exe in "$R/opt/swiftlet/bin/swiftlet-cgroup2-check" "$R/usr/bin/tar" "$R/usr/bin/sha256sum"; do
  { ldd "$exe" 2>/dev/null || true; } | awk '/=> \// { print $3 } /^\t\// { print $1 }'
done | sort -u | while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
printf '127.0.0.1\tlocalhost\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"

# PID 1. Stage 1 runs on the initramfs (rootfs), where pivot_root(2) is refused, and the
# shim pivots into every container's root: copy everything into a tmpfs and switch_root.
# Stage 2 mounts cgroup2 alone at /sys/fs/cgroup, loads overlayfs and runs the payload,
# its stdout on the second serial port, bounded by a timeout; then powers off.
cat >"$R/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin
if [ "$1" != stage2 ]; then
  mount -t tmpfs -o mode=0755 root /newroot
  for e in /*; do
    case "$e" in /newroot | /proc | /sys | /dev) mkdir -p "/newroot$e" ;; *) cp -a "$e" /newroot/ ;; esac
  done
  exec switch_root /newroot /init stage2
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname swiftlet-vm
# Foundation's run loop (Process.waitUntilExit) wakes itself through UDP sockets on 127.0.0.1
ip link set lo up
insmod /lib/modules/overlay.ko || echo "vm: insmod overlay failed" >/dev/console
echo "vm: payload starting at $(cut -d' ' -f1 /proc/uptime)s" >/dev/console
timeout -s KILL 200 /opt/swiftlet/bin/swiftlet-cgroup2-check >/dev/ttyS1 2>/dev/console
rc=$?
echo "vm: payload exited $rc at $(cut -d' ' -f1 /proc/uptime)s" >/dev/console
echo "vm-exit $rc" >/dev/ttyS1
poweroff -f
EOF
chmod 0755 "$R/init"
(cd "$R" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$WORK/initramfs.cpio"
say "initramfs $(($(stat -c %s "$WORK/initramfs.cpio") / 1048576)) MiB in $((SECONDS - t0)) s; kernel $(cat "$KERNEL/version"); accel $ACCEL"

# ---------------------------------------------------------------- boot
# Sends each argument as a command to qemu's human monitor and prints the replies.
monitor() {
  python3 - "$WORK/monitor.sock" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
def drain():
    out = b""
    time.sleep(0.5)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out.decode(errors="replace")
s.settimeout(0.5)
drain()  # the greeting
for command in sys.argv[2:]:
    s.sendall(command.encode() + b"\n")
    for line in drain().replace("\r", "").splitlines():
        if line.strip() and not line.startswith("(qemu)") and "\x1b" not in line:
            print(line)
PY
}

t1=$SECONDS
# loglevel=4: kernel errors (hung tasks, RCU stalls, soft lockups, OOM kills) reach the console.
# unknown_nmi_panic + panic_print: the NMI sent on a timeout (below) makes the kernel print every
# task's state and every CPU's backtrace, then panic, which ends qemu (-no-reboot).
"$QEMU" "${ACCEL_ARGS[@]}" -m 1536 -smp 2 -nodefaults -no-reboot -nic none -display none \
  -monitor "unix:$WORK/monitor.sock,server=on,wait=off" \
  -kernel "$KERNEL/vmlinuz" -initrd "$WORK/initramfs.cpio" \
  -append "console=ttyS0 rdinit=/init quiet loglevel=4 cgroup_no_v1=all panic=-1 oops=panic unknown_nmi_panic panic_print=0x41" \
  -serial "file:$WORK/console.log" -serial "file:$WORK/results.log" \
  </dev/null >"$WORK/qemu.log" 2>&1 &
QEMU_PID=$!
status=2
timed_out=0
while kill -0 "$QEMU_PID" 2>/dev/null; do
  if ((SECONDS - t1 >= TIMEOUT)); then
    say "timeout: the VM ran ${TIMEOUT}s; asking the guest kernel for its tasks and CPUs (NMI)"
    monitor "info cpus" "nmi" | sed 's/^/vm monitor: /' >&2 || true
    for _ in $(seq 1 50); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.2; done
    say "killing qemu (pid $QEMU_PID)"
    kill -KILL "$QEMU_PID" 2>/dev/null || true
    timed_out=1
    break
  fi
  sleep 0.2
done
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=
say "VM ran $((SECONDS - t1)) s"

# a serial line is a tty: its \n arrive as \r\n
tr -d '\r' <"$WORK/results.log" >"$WORK/results.txt" 2>/dev/null || true
cat "$WORK/results.txt"
if grep -q '^vm-exit ' "$WORK/results.txt" && grep -q '^done ' "$WORK/results.txt"; then
  if grep -q '^done [0-9]* 0$' "$WORK/results.txt" && grep -q '^vm-exit 0$' "$WORK/results.txt"; then status=0; else status=1; fi
fi
if ((status != 0)); then
  lines=80
  ((timed_out)) && lines=2000  # all of the NMI's task and CPU dump (~1,300 lines)
  say "console (last $lines lines):"
  tail -n "$lines" "$WORK/console.log" | tr -d '\r' | sed 's/^/vm console: /' >&2
  [[ -s "$WORK/qemu.log" ]] && sed 's/^/vm qemu: /' "$WORK/qemu.log" >&2
fi
exit $status
