#!/usr/bin/env bash
# The main job: installs what is needed, builds swiftlet and runs the control plane
# (API server on 127.0.0.1 with embedded SQLite, scheduler and controllers in-process),
# then shows kubectl using it. There is no node yet, so the demo's pods stay Pending with
# the scheduler's FailedScheduling event.
#
#   scripts/run.sh          start (or reuse) the server and run the demo
#   scripts/run.sh stop     stop the server and remove its state
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="${SWIFTLET_STATE:-/tmp/swiftlet-demo}"
PORT="${SWIFTLET_PORT:-6443}"
KUBECTL="$ROOT/.tools/bin/kubectl"
export KUBECONFIG="$STATE/kubeconfig"

if [[ "${1:-}" == "stop" ]]; then
  if [[ -f "$STATE/server.pid" ]] && kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then
    kill "$(cat "$STATE/server.pid")"
    for _ in $(seq 50); do kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$STATE"
  echo "run: stopped and cleaned up $STATE"
  exit 0
fi

bash scripts/setup.sh --quiet
export PATH="/opt/swift/usr/bin:$PATH"
echo "run: building swiftlet"
swift build --product swiftlet -q
BIN="$(swift build --show-bin-path)/swiftlet"
mkdir -p "$STATE"
if [[ -f "$STATE/server.pid" ]] && kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then
  echo "run: server already running (pid $(cat "$STATE/server.pid"))"
else
  nohup "$BIN" server --data-dir "$STATE/data" --port "$PORT" --kubeconfig-out "$STATE/kubeconfig" \
    >"$STATE/server.log" 2>&1 &
  echo $! >"$STATE/server.pid"
  for _ in $(seq 100); do
    "$KUBECTL" get --raw /healthz >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$KUBECTL" get --raw /healthz >/dev/null || { cat "$STATE/server.log"; exit 1; }
  echo "run: swiftlet server started (pid $(cat "$STATE/server.pid")), listening on 127.0.0.1:$PORT"
fi

echo "run: demo — applying a Namespace, Deployment, Service and ConfigMap"
"$KUBECTL" apply -f examples/demo.yaml
"$KUBECTL" apply -f examples/demo.yaml
sleep 2  # the controllers create the ReplicaSet and its pods
"$KUBECTL" get deploy,rs,pods,svc,endpoints,cm -n demo -o wide
"$KUBECTL" get events -n demo
"$KUBECTL" get ns
cat <<EOT

The control plane is running. Use it with:
  export KUBECONFIG=$STATE/kubeconfig
  $KUBECTL get all -A
Stop it and remove its state with:
  bash scripts/run.sh stop
EOT
