#!/usr/bin/env bash
# THE nfjit demo, for a router owner: the unmodified iptables-legacy tools, their rules run as BPF.
#
#   sudo bash scripts/demo.sh [BUILD_DIR]      (default: build; built with scripts/build.sh if missing)
#
# Two throwaway network namespaces joined by a veth pair: "router" (198.18.0.1, runs nfjitd) and
# "client" (198.18.0.2). The root namespace's firewall is never touched; namespaces, mounts and
# processes are removed on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, BPF)" >&2; exit 1; }
if [ ! -x "$BUILD/src/daemon/nfjitd" ] || [ ! -x "$BUILD/src/cli/nfjit" ]; then
  if [ "$BUILD" = build ]; then bash scripts/build.sh; else ninja -C "$BUILD"; fi
fi
NFJITD=$PWD/$BUILD/src/daemon/nfjitd
NFJIT=$PWD/$BUILD/src/cli/nfjit
for t in iptables-legacy iptables-legacy-restore iptables-legacy-save ping python3; do
  command -v "$t" >/dev/null || { echo "missing $t (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

R=nfjit-demo-router-$$ C=nfjit-demo-client-$$
DIR=$(mktemp -d /tmp/nfjit-demo-XXXXXX)
SOCK=$DIR/nfjitd.sock STATE=$DIR/state BPFFS=$DIR/bpffs
cleanup() {
  set +e
  [ -f "$STATE/nfjitd.pid" ] && kill "$(cat "$STATE/nfjitd.pid")" 2>/dev/null && sleep 0.3
  ip netns del "$R" 2>/dev/null
  ip netns del "$C" 2>/dev/null
  mountpoint -q "$BPFFS" && umount "$BPFFS"
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
router() { ip netns exec "$R" "$@"; }
client() { ip netns exec "$C" "$@"; }
ipt() { router "$NFJIT" exec --socket "$SOCK" -- "$@"; }   # iptables through nfjit
start_daemon() { router "$NFJITD" --socket "$SOCK" --state-dir "$STATE" --bpffs "$BPFFS"; }
# UDP datagrams / TCP connection attempts from the client; prints what got through.
udp() { client python3 -c "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);[s.sendto(b'hello',('198.18.0.1',$1)) for _ in range($2)]"; echo "client: sent $2 UDP datagrams to port $1"; }
tcp() {
  client python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect(("198.18.0.1", int(sys.argv[1]))); r = "connected"
except ConnectionRefusedError: r = "refused by the router's stack (rule let it through, nothing listens)"
except socket.timeout: r = "timed out (dropped by the router)"
print(f"client: TCP to port {sys.argv[1]}: {r}")
PY
}

say "two namespaces: router $R (198.18.0.1) <-veth-> client $C (198.18.0.2)"
ip netns add "$R"; ip netns add "$C"
router ip link set lo up; client ip link set lo up
router ip link add lan0 type veth peer name eth0 netns "$C"
router ip addr add 198.18.0.1/24 dev lan0; router ip link set lan0 up
client ip addr add 198.18.0.2/24 dev eth0; client ip link set eth0 up

say "start nfjitd in the router namespace (bpffs for its pins mounted here, outside ip netns exec)"
mkdir -p "$BPFFS"; mount -t bpf bpf "$BPFFS"
run start_daemon
echo "nfjitd pid $(cat "$STATE/nfjitd.pid")"

say "a small router ruleset with a user chain, loaded by the unmodified iptables-legacy-restore"
cat > "$DIR/rules" <<'RULES'
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:lan-services - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 10/sec -j ACCEPT
-A INPUT -i lan0 -s 198.18.0.0/24 -j lan-services
-A INPUT -m limit --limit 5/min -j LOG --log-prefix "router-drop: "
-A lan-services -p udp -m udp --dport 53 -j ACCEPT
-A lan-services -p tcp -m tcp --dport 22 -j ACCEPT
-A lan-services -p udp -m multiport --dports 67,123 -j ACCEPT
-A lan-services -p tcp -m tcp --dport 23 -j DROP
COMMIT
RULES
cat "$DIR/rules"
run ipt iptables-legacy-restore < "$DIR/rules"

say "real traffic from the client"
client ping -c 3 -i 0.2 -W 1 198.18.0.1 | tail -2
udp 53 4; udp 9999 6
tcp 22; tcp 23; tcp 8080

say "iptables-legacy -L -v -x through nfjit: live BPF counters"
run ipt iptables-legacy -L -v -x -n
say "iptables-legacy-save -c through nfjit"
run ipt iptables-legacy-save -c
say "nfjit status"
run router "$NFJIT" status --socket "$SOCK"
say "the kernel's own ip_tables in the router namespace holds no rule (plain iptables-legacy-save, no nfjit)"
run router iptables-legacy-save | grep -E '^-A' || echo "(no rules in the kernel's ip_tables)"
say "the BPF programs, attached at the netfilter hooks of the router namespace"
if command -v bpftool >/dev/null; then run router bpftool link show; else echo "(bpftool not installed)"; fi

say "kill -9 nfjitd: filtering goes on without it"
before=$(ipt iptables-legacy -L lan-services -v -x -n | awk '$3=="DROP"{print $1}')
kill -9 "$(cat "$STATE/nfjitd.pid")"; rm -f "$STATE/nfjitd.pid"; sleep 0.2
client ping -c 2 -i 0.2 -W 1 198.18.0.1 | tail -2
tcp 22; tcp 23
say "restart nfjitd: it adopts its pinned programs; rules and counters are as before, plus what happened meanwhile"
run start_daemon
run ipt iptables-legacy -L lan-services -v -x -n
after=$(ipt iptables-legacy -L lan-services -v -x -n | awk '$3=="DROP"{print $1}')
echo "port-23 DROP counter: $before before the kill, $after now (the attempt made while nfjitd was down was dropped and counted)"
say "done: cleanup removes the namespaces, the bpffs mount and the daemon"
