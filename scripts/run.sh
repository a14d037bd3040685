#!/usr/bin/env bash
# The main job: installs what is needed, builds swiftlet and runs `swiftlet up` — API server
# (embedded SQLite), scheduler, controllers, node agent and service proxy in one process —
# inside an isolated test host: the network namespace "swiftlet-demo", whose only route leads
# into a veth with no peer up (nothing leaves the machine) and whose cgroups live under
# "swiftlet-demo". Then it deploys 3 busybox httpd replicas behind a ClusterIP Service and
# curls the ClusterIP, showing which pod answered each time. The cluster keeps running.
#
#   scripts/run.sh          start (or reuse) the cluster and run the demo
#   scripts/run.sh stop     stop it and remove everything it made (pods, mounts, cgroups, netns, state)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="${SWIFTLET_STATE:-/tmp/swiftlet-demo}"
NETNS=swiftlet-demo
CGROUP=swiftlet-demo
NODE_IP=10.250.100.2
IMAGE=localhost/swiftlet/busybox:demo
KUBECTL="$ROOT/.tools/bin/kubectl"
export PATH="/opt/swift/usr/bin:$PATH"

in_netns() { ip netns exec "$NETNS" "$@"; }
k() { in_netns "$KUBECTL" --kubeconfig "$STATE/kubeconfig" "$@"; }
running() { [[ -f "$STATE/up.pid" ]] && kill -0 "$(cat "$STATE/up.pid")" 2>/dev/null; }

stop() {
  if running; then
    pid="$(cat "$STATE/up.pid")"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Pods outlive the agent (as with any kubelet): remove their sandboxes, containers,
  # mounts and cgroups through the runtime, then what the runtime could not.
  if [[ -x "$STATE/bin/swiftlet" && -d "$STATE/agent/runtime" ]]; then
    "$STATE/bin/swiftlet" crictl rmp --all --root "$STATE/agent/runtime" --cgroup-root "$CGROUP" >/dev/null 2>&1 || true
  fi
  if [[ -d "$STATE" ]]; then
    awk -v d="$STATE" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
  for base in /sys/fs/cgroup/*/"$CGROUP" /sys/fs/cgroup/"$CGROUP"; do
    [[ -d "$base" ]] || continue
    find "$base" -depth -type d | while read -r d; do
      for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
      rmdir "$d" 2>/dev/null || true
    done
  done
  ip netns del "$NETNS" 2>/dev/null || true
  rm -rf "$STATE"
}

if [[ "${1:-}" == "stop" ]]; then
  stop
  echo "run: stopped swiftlet and removed $STATE, netns $NETNS and cgroups $CGROUP"
  exit 0
fi

bash scripts/setup.sh --quiet
echo "run: building swiftlet"
for p in swiftlet swiftlet-shim swiftlet-cni pause; do swift build --product "$p" -q; done
BIN_DIR="$(swift build --show-bin-path)"
mkdir -p "$STATE/bin"
# A copy of the binaries the cluster runs, so rebuilding the tree does not change them underneath.
for p in swiftlet swiftlet-shim swiftlet-cni pause; do cp -f "$BIN_DIR/$p" "$STATE/bin/$p"; done
BIN="$STATE/bin/swiftlet"

if running; then
  echo "run: swiftlet up already running (pid $(cat "$STATE/up.pid"))"
else
  # The isolated host: loopback, a veth whose peer stays down holding the node's address, and
  # a default route into it, so packets to addresses outside the pod network go nowhere.
  ip netns del "$NETNS" 2>/dev/null || true
  ip netns add "$NETNS"
  in_netns ip link set lo up
  in_netns ip link add eth0 type veth peer name eth0-nowhere
  in_netns ip addr add "$NODE_IP/24" dev eth0
  in_netns ip link set eth0 up
  in_netns ip route add default dev eth0

  # The demo image: the host's static busybox with its applets, imported as a local image.
  rootfs="$STATE/rootfs"
  rm -rf "$rootfs" && mkdir -p "$rootfs"/{bin,etc,tmp,root,www}
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do [[ "$a" == busybox ]] || ln -sf busybox "$rootfs/bin/$a"; done
  echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
  echo "root:x:0:" >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -cf "$STATE/busybox-rootfs.tar" .
  rm -rf "$rootfs"
  "$BIN" crictl import --root "$STATE/agent/runtime" --cgroup-root "$CGROUP" --name "$IMAGE" "$STATE/busybox-rootfs.tar"

  nohup nsenter --net="/run/netns/$NETNS" "$BIN" up \
    --data-dir "$STATE/server" --kubeconfig-out "$STATE/kubeconfig" --port 6443 \
    --node-name demo-node --node-ip "$NODE_IP" --root-dir "$STATE/agent" --pod-logs-dir "$STATE/logs" \
    --pod-cidr 10.244.0.0/24 --cluster-cidr 10.244.0.0/16 --cgroup-root "$CGROUP" \
    >"$STATE/up.log" 2>&1 &
  echo $! >"$STATE/up.pid"
  for _ in $(seq 300); do
    [[ "$(k get node demo-node -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]] && break
    running || { cat "$STATE/up.log"; exit 1; }
    sleep 0.2
  done
  k get node demo-node >/dev/null || { tail -50 "$STATE/up.log"; exit 1; }
  echo "run: swiftlet up started (pid $(cat "$STATE/up.pid")) in network namespace $NETNS"
fi

echo "run: demo — a Deployment of 3 busybox httpd replicas behind a ClusterIP Service"
k apply -f examples/demo.yaml
k -n demo rollout status deploy/web --timeout=120s
k get nodes -o wide
k -n demo get deploy,rs,pods,svc,endpointslices -o wide
IP="$(k -n demo get svc web -o 'jsonpath={.spec.clusterIP}')"
# The proxy programs a change within its --min-sync-period (1 s), as kube-proxy does: wait
# (10 s at most) until each of the 3 replicas has answered through the ClusterIP once.
seen="" answered=0
for _ in $(seq 50); do
  who="$(in_netns curl -s --max-time 1 "http://$IP/" || true)"
  if [[ -n "$who" && "$seen" != *"[$who]"* ]]; then seen+="[$who]"; answered=$((answered + 1)); fi
  ((answered >= 3)) && break
  sleep 0.2
done
echo "run: curl http://$IP/ (the ClusterIP) from the node, 12 times:"
for i in $(seq 12); do
  printf '  %s: ' "$i"
  in_netns curl -s --max-time 3 "http://$IP/" || echo "(no answer)"
done
# A one-line kubectl for the user: runs inside the netns with the cluster's kubeconfig.
cat >"$STATE/kubectl" <<EOT
#!/usr/bin/env bash
exec ip netns exec $NETNS "$KUBECTL" --kubeconfig "$STATE/kubeconfig" "\$@"
EOT
chmod +x "$STATE/kubectl"
cat <<EOT

The cluster is running (logs: $STATE/up.log). Use it with:
  $STATE/kubectl get pods -A
  ip netns exec $NETNS curl http://$IP/
Stop it and remove everything it made with:
  bash scripts/run.sh stop
EOT
