#!/usr/bin/env bash
# End-to-end check of generated rulesets with real packets (docs/firewall.md).
# Needs root (network namespaces), nft, ip and python3; not run by
# `cargo test`. Run from the repository root after `cargo build`:
#
#   sudo tests/firewall/netns-e2e.sh
#
# Three namespaces: a node (10.0.1.5 and 10.0.2.5), an admin client
# (10.0.1.100) and another client that is also the "pod" behind a NodePort
# (10.0.2.100). A stand-in for kube-proxy DNATs NodePort 30002 at priority
# -100. Checks: allowed ports open only to their sources, deny wins, ports
# nobody names stay untouched, loopback passes, and a NodePort is filtered
# before the DNAT (an `input` chain would miss it).
set -euo pipefail
cd "$(dirname "$0")/../.."
nplc=${NPLC:-target/debug/nplc}
[ "$(id -u)" -eq 0 ] || { echo "netns-e2e: needs root" >&2; exit 2; }
for t in nft ip python3; do command -v "$t" >/dev/null || { echo "netns-e2e: $t missing" >&2; exit 2; }; done
[ -x "$nplc" ] || { echo "netns-e2e: build nplc first ($nplc)" >&2; exit 2; }

tag="nplc$$"
node="$tag-node" admin="$tag-admin" other="$tag-other"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in "$node" "$admin" "$other"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for n in "$node" "$admin" "$other"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add "${tag}a" type veth peer name eth-a netns "$node"
ip link set "${tag}a" netns "$admin" name va
ip link add "${tag}o" type veth peer name eth-o netns "$node"
ip link set "${tag}o" netns "$other" name vo
ip -n "$node" addr add 10.0.1.5/24 dev eth-a
ip -n "$node" addr add 10.0.2.5/24 dev eth-o
ip -n "$admin" addr add 10.0.1.100/24 dev va
ip -n "$other" addr add 10.0.2.100/24 dev vo
ip -n "$node" link set eth-a up; ip -n "$node" link set eth-o up
ip -n "$admin" link set va up; ip -n "$other" link set vo up
ip -n "$admin" route add 10.0.2.0/24 via 10.0.1.5
ip -n "$other" route add 10.0.1.0/24 via 10.0.2.5
ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1
printf 'table ip kp {\n chain pre {\n  type nat hook prerouting priority -100;\n  tcp dport 30002 dnat to 10.0.2.100:8080\n }\n}\n' >"$work/kp.nft"
ip netns exec "$node" nft -f "$work/kp.nft"

cat >"$work/serve.py" <<'EOF'
import socket, sys, threading, time
def serve(p):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); s.listen(16)
    while True:
        c, _ = s.accept(); c.close()
for p in map(int, sys.argv[1:]):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
time.sleep(60)
EOF
cat >"$work/probe.py" <<'EOF'
import socket, sys
host = sys.argv[1]; out = []
for p in map(int, sys.argv[2:]):
    s = socket.socket(); s.settimeout(1.0)
    try:
        s.connect((host, p)); out.append(f"{p}:open")
    except Exception:
        out.append(f"{p}:closed")
    s.close()
print(" ".join(out))
EOF
ip netns exec "$node" python3 "$work/serve.py" 22 10250 10255 30000 30001 8080 & pids+=($!)
ip netns exec "$other" python3 "$work/serve.py" 8080 & pids+=($!)
sleep 1

cat >"$work/fw.npl" <<'EOF'
use k8s-ports
define admin = 10.0.1.100
nodes {
  role worker = 10.0.1.0/24
  allow admin -> worker:ssh, kubelet
  allow world -> worker:nodeport
  deny world except admin -> worker:dashboard
  deny 10.0.1.100 -> worker:30002
}
EOF
"$nplc" build "$work/fw.npl" -o "$work/out" 2>/dev/null
ip netns exec "$node" nft -f "$work/out/firewall/worker.nft"

fail=0
expect() {
  local what=$1 want=$2 got=$3
  if [ "$got" = "$want" ]; then echo "ok    $what: $got"; else echo "FAIL  $what: got '$got', want '$want'"; fail=1; fi
}
ports="22 10250 10255 30000 30001 8080"
expect "admin -> node" "22:open 10250:open 10255:closed 30000:open 30001:open 8080:open" \
  "$(ip netns exec "$admin" python3 "$work/probe.py" 10.0.1.5 $ports)"
expect "other -> node" "22:closed 10250:closed 10255:closed 30000:closed 30001:open 8080:open" \
  "$(ip netns exec "$other" python3 "$work/probe.py" 10.0.2.5 $ports)"
expect "node -> itself" "22:open 10250:open 10255:open 30000:open 30001:open 8080:open" \
  "$(ip netns exec "$node" python3 "$work/probe.py" 10.0.1.5 $ports)"
# NodePort 30002 is DNATed to the pod 10.0.2.100:8080; the deny must win before the DNAT
expect "admin -> DNATed NodePort 30002 (denied)" "30002:closed" \
  "$(ip netns exec "$admin" python3 "$work/probe.py" 10.0.1.5 30002)"
ip netns exec "$node" nft delete table inet nplc_worker
expect "admin -> DNATed NodePort 30002 (no firewall)" "30002:open" \
  "$(ip netns exec "$admin" python3 "$work/probe.py" 10.0.1.5 30002)"
exit "$fail"
