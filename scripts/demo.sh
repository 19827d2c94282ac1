#!/bin/sh
# Demo of nfjitd + the preload shim with the unmodified iptables-legacy tools, entirely inside a
# throwaway network namespace (the root namespace's firewall is never touched).
#   scripts/demo.sh [BUILD_DIR]     (default: build; needs root, iptables-legacy, strace optional)
set -eu
BUILD=${1:-build}
NFJITD=$BUILD/src/daemon/nfjitd
NFJIT=$BUILD/src/cli/nfjit
[ -x "$NFJITD" ] && [ -x "$NFJIT" ] || { echo "build first: ninja -C $BUILD" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, raw sockets)" >&2; exit 1; }

NS=nfjit-demo-$$
DIR=$(mktemp -d /tmp/nfjit-demo-XXXXXX)
SOCK=$DIR/nfjitd.sock
cleanup() {
  [ -f "$DIR/state/nfjitd.pid" ] && kill "$(cat "$DIR/state/nfjitd.pid")" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
in_ns() { ip netns exec "$NS" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

ip netns add "$NS"
in_ns ip link set lo up

say "start nfjitd in namespace $NS (returns once it serves)"
in_ns "$NFJITD" --socket "$SOCK" --state-dir "$DIR/state"
echo "pid $(cat "$DIR/state/nfjitd.pid"), socket $SOCK"

say "iptables-legacy through the shim: nfjit exec -- iptables-legacy -A INPUT ..."
in_ns "$NFJIT" exec --socket "$SOCK" -- iptables-legacy -A INPUT -p tcp --dport 22 -m comment --comment ssh -j ACCEPT
in_ns "$NFJIT" exec --socket "$SOCK" -- iptables-legacy -A INPUT -c 7 700 -s 192.0.2.0/24 -j DROP
in_ns "$NFJIT" exec --socket "$SOCK" -- ip6tables-legacy -A INPUT -s 2001:db8::/32 -j DROP
if command -v strace >/dev/null; then
  say "the kernel sees no IPT_SO_* call any more: per xtables call one SO_TYPE check (raw socket?) and one connect to nfjitd"
  in_ns "$NFJIT" exec --socket "$SOCK" -- strace -f -e trace=connect,getsockopt,setsockopt \
    iptables-legacy -A INPUT -j ACCEPT 2>&1 | grep -E 'connect|IPT_SO|SO_TYPE' || true
fi

say "iptables-legacy-save / -restore through the shim"
printf '*filter\n-A FORWARD -j DROP\nCOMMIT\n' | in_ns "$NFJIT" exec --socket "$SOCK" -- iptables-legacy-restore -n
in_ns "$NFJIT" exec --socket "$SOCK" -- iptables-legacy-save | grep -v '^#'
in_ns "$NFJIT" exec --socket "$SOCK" -- iptables-legacy -L INPUT -v -x -n

say "nfjit status"
in_ns "$NFJIT" status --socket "$SOCK"

say "SIGTERM: the daemon exits cleanly, removes its socket; rules stay in force"
kill "$(cat "$DIR/state/nfjitd.pid")"
sleep 0.3
ls "$SOCK" 2>/dev/null || echo "socket removed"
in_ns "$NFJIT" status --socket "$SOCK" || true
say "with no daemon the shim falls through to the namespace's kernel"
in_ns "$NFJIT" exec --socket "$SOCK" -- iptables-legacy -S INPUT
