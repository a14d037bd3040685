#!/usr/bin/env bash
# Refreshes scripts/swiftlet.order, the order in which lld lays out the swiftlet executable's
# functions (Package.swift passes it as --symbol-ordering-file). The kernel maps code in 64 KiB
# runs around each page fault, so code run by the agent but scattered through the 37 MB text
# kept ~22 MB resident; laid out together it takes a fraction of that.
#
# Runs AgentBenchmark (release build, no podman reference) while perf records every page
# fault, and appends each function of the swiftlet binary whose first instruction fetch faulted
# in the agent process. Run it a few times: each pass lays out what the last one found, and the
# next finds the code that shared a 64 KiB run with it. Names that no longer exist are ignored
# by lld. As root: scripts/order-agent-code.sh [passes]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="/opt/swift/usr/bin:$PATH"
command -v perf >/dev/null || { echo "order: needs perf (scripts/setup.sh --bench installs linux-perf)" >&2; exit 1; }
ORDER=scripts/swiftlet.order
PASSES="${1:-1}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
touch "$ORDER"

for pass in $(seq "$PASSES"); do
  # the order file is not an input SwiftPM tracks: relink by hand
  rm -f .build-rel/release/swiftlet
  swift build -c release --scratch-path .build-rel -q
  swift build --build-tests -q
  perf record -q -e page-faults -c 1 -d -a -o "$WORK/pf.data" -- sleep 75 >/dev/null 2>&1 &
  perf_pid=$!
  sleep 1
  SWIFTLET_BENCH=1 SWIFTLET_BENCH_REFERENCE=0 SWIFTLET_BIN_DIR="$ROOT/.build-rel/release" \
    swift test --skip-build --filter AgentBenchmark >"$WORK/bench.log" 2>&1 &
  bench_pid=$!
  agent=""
  for _ in $(seq 3000); do
    agent="$(pgrep -f "release/swiftlet agent --server" | head -1 || true)"
    [[ -n "$agent" ]] && break
    sleep 0.01
  done
  wait "$bench_pid" || { cat "$WORK/bench.log"; exit 1; }
  wait "$perf_pid" || true
  [[ -n "$agent" ]] || { echo "order: no agent process seen" >&2; exit 1; }
  before=$(wc -l <"$ORDER")
  # an instruction fetch fault: the faulting address is the instruction pointer
  perf script -i "$WORK/pf.data" --pid "$agent" -F ip,addr,sym,dso --no-demangle 2>/dev/null |
    awk '$1 == $4 && $NF ~ /release\/swiftlet\)$/ && $5 != "[unknown]" { print $5 }' >"$WORK/new"
  cat "$ORDER" "$WORK/new" | awk '!seen[$0]++' >"$WORK/order"
  mv "$WORK/order" "$ORDER"
  echo "order: pass $pass: $(wc -l <"$WORK/new") text faults in agent $agent; $before -> $(wc -l <"$ORDER") functions"
  grep -A3 "swiftlet agent," "$WORK/bench.log" | tail -2
done
# relink with the final order
rm -f .build-rel/release/swiftlet
swift build -c release --scratch-path .build-rel -q
