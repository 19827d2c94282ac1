#!/bin/bash
# nf_tables at scale through nfjitd vs the kernel's own nf_tables (issues 4 and 6): for each size N,
#  - set:   `nft -f` of a table with a named ipv4_addr set of N elements and one rule `ip saddr @s
#           counter drop`, then `nft add element` of one new address (ADDS times);
#  - chain: `nft -f` of a chain of N rules `ip saddr A udp dport P counter drop`, then `nft add rule`
#           of one more rule (ADDS times);
#  - anon:  the same with an anonymous set in every rule (`tcp dport { P, P+1 }`): N anonymous sets;
# end to end (process start included), plain `nft` in namespace K and `nft` through the preload shim
# into a fresh nfjitd in namespace N, in the same run. Also nfjitd's RSS (now and peak) after the
# adds, and whether both list the same number of elements / rules.
#
#   bash bench/nft_scale/run.sh [--build DIR] [--sets "1000 10000 100000"] [--chains "1000 10000"]
#                               [--anons "1000 10000"] [--adds 3] [--timeout SECONDS]
#
# Needs root. Touches nothing outside the namespaces it creates (addresses 198.18.0.0/15 only) and the
# temporary directory it makes; a trap stops the daemon it started and removes both on any exit.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=
SETS="1000 10000 100000"
CHAINS="1000 10000"
ANONS="1000 10000"
ADDS=3
TIMEOUT=600
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift ;;
    --sets) SETS=$2; shift ;;
    --chains) CHAINS=$2; shift ;;
    --anons) ANONS=$2; shift ;;
    --adds) ADDS=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, BPF, netfilter)" >&2; exit 1; }
if [ -z "$BUILD" ]; then
  for b in "${NFJIT_BUILD:-}" "$ROOT/build-bench" "$ROOT/build"; do
    [ -n "$b" ] && [ -x "$b/src/daemon/nfjitd" ] && { BUILD=$b; break; }
  done
fi
case $BUILD in /*) ;; ?*) BUILD=$PWD/$BUILD ;; esac
NFJITD=$BUILD/src/daemon/nfjitd
PRELOAD=$BUILD/src/preload/libnfjit-preload.so
[ -x "$NFJITD" ] && [ -f "$PRELOAD" ] || {
  echo "nfjitd / libnfjit-preload.so not built in '${BUILD:-build-bench}':" >&2
  echo "  meson setup build-bench && ninja -C build-bench src/daemon/nfjitd src/preload/libnfjit-preload.so" >&2
  exit 1; }
for tool in ip nft timeout; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

TAG=nfjit-nftscale-$$
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
chmod 755 "$TMP"
NSK=$TAG-k
NSN=$TAG-n
DPID=
stop_daemon() {
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    kill -TERM "$DPID"
    for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPID" 2>/dev/null
  fi
  DPID=
}
del_netns() { ip netns del "$NSK" 2>/dev/null; ip netns del "$NSN" 2>/dev/null; }
cleanup() { stop_daemon; del_netns; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fresh K and N, nfjitd serving N (its bpffs is mounted in the mount namespace of `ip netns exec`,
# which lives as long as the daemon).
fresh() {
  stop_daemon
  del_netns
  rm -rf "$TMP/d"
  mkdir -p "$TMP/d"
  ip netns add "$NSK" && ip netns add "$NSN" || exit 1
  ip -n "$NSK" link set lo up
  ip -n "$NSN" link set lo up
  ip netns exec "$NSN" "$NFJITD" --socket "$TMP/d/sock" --state-dir "$TMP/d/state" --bpffs "$TMP/d/bpf" \
    2>"$TMP/d/log" || { echo "nfjitd did not start:"; cat "$TMP/d/log"; exit 1; }
  DPID=$(cat "$TMP/d/state/nfjitd.pid")
}

# t NS nfjit|kernel CMD...: runs CMD in NS (through the shim for nfjit), prints milliseconds; the clock
# runs inside the namespace so `ip netns exec` itself is not counted.
t() {
  local ns=$1 via=$2
  shift 2
  local pre=
  [ "$via" = nfjit ] && pre="$PRELOAD"
  ip netns exec "$ns" env P="$pre" S="$TMP/d/sock" T="$TIMEOUT" bash -c '
    s=$EPOCHREALTIME
    LD_PRELOAD=$P NFJIT_SOCKET=$S timeout $T "$@" >/dev/null 2>"'"$TMP"'/err"
    rc=$?
    e=$EPOCHREALTIME
    if [ $rc != 0 ]; then printf "FAILED(%d: %s)" $rc "$(head -c 120 "'"$TMP"'/err" | tr "\n" " ")"; exit 1; fi
    d=$(( ${e/./} - ${s/./} ))
    printf "%d.%d" $((d / 1000)) $(((d % 1000) / 100))' bash "$@"
}
# ms -> "1.23 s" or "45.6 ms"
fmt() {
  case $1 in FAILED*) echo "$1"; return ;; esac
  awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f s", v / 1000; else printf "%.1f ms", v }'
}
addr() {  # i -> 198.18.0.0/15 address number i
  echo "198.$((18 + ($1 >> 16))).$((($1 >> 8) & 255)).$(($1 & 255))"
}
rss() {  # nfjitd's VmRSS / VmHWM in MiB
  awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { printf "%d / %d MiB", r / 1024, h / 1024 }' "/proc/$DPID/status"
}

gen_set() {  # N FILE
  awk -v n="$1" 'BEGIN {
    print "table ip t {"
    print "  set s {"
    print "    type ipv4_addr; size " (n + 1000) ";"
    printf "    elements = { "
    for (i = 0; i < n; i++) printf "%s198.%d.%d.%d", (i ? ", " : ""), 18 + int(i / 65536), int(i / 256) % 256, i % 256
    print " }"
    print "  }"
    print "  chain in {"
    print "    type filter hook input priority 0; policy accept;"
    print "    ip saddr @s counter drop"
    print "  }"
    print "}"
  }' > "$2"
}
gen_chain() {  # N FILE [anon]
  awk -v n="$1" -v anon="${3:-}" 'BEGIN {
    print "table ip t {"
    print "  chain in {"
    print "    type filter hook input priority 0; policy accept;"
    for (i = 0; i < n; i++)
      if (anon)
        printf "    ip saddr 198.%d.%d.%d tcp dport { %d, %d } counter drop\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256, 1024 + i % 50000, 1025 + i % 50000
      else
        printf "    ip saddr 198.%d.%d.%d udp dport %d counter drop\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256, 1024 + i % 50000
    print "  }"
    print "}"
  }' > "$2"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

# row KIND N: load both, ADDS single adds into both, listing sanity check, RSS.
row() {
  local kind=$1 n=$2 file=$TMP/rules.nft
  fresh
  case $kind in
    set) gen_set "$n" "$file" ;;
    chain) gen_chain "$n" "$file" ;;
    anon) gen_chain "$n" "$file" anon ;;
  esac
  local lk ln
  lk=$(t "$NSK" kernel nft -f "$file")
  ln=$(t "$NSN" nfjit nft -f "$file")
  local ak="" an="" i cmd
  for i in $(seq "$ADDS"); do
    local a
    a=$(addr $((n + i)))
    case $kind in
      set) cmd="nft add element ip t s { $a }" ;;
      chain) cmd="nft add rule ip t in ip saddr $a udp dport 9 counter drop" ;;
      anon) cmd="nft add rule ip t in ip saddr $a tcp dport { 7, 9 } counter drop" ;;
    esac
    ak="$ak $(t "$NSK" kernel $cmd)"
    an="$an $(t "$NSN" nfjit $cmd)"
  done
  # Same content listed by both? (elements: count of addresses; rules: count of rules)
  local ck cn
  if [ "$kind" = set ]; then
    ck=$(ip netns exec "$NSK" nft list set ip t s | grep -o '198\.[0-9.]*' | wc -l)
    cn=$(ip netns exec "$NSN" env LD_PRELOAD="$PRELOAD" NFJIT_SOCKET="$TMP/d/sock" nft list set ip t s | grep -o '198\.[0-9.]*' | wc -l)
  else
    ck=$(ip netns exec "$NSK" nft list chain ip t in | grep -c 'counter')
    cn=$(ip netns exec "$NSN" env LD_PRELOAD="$PRELOAD" NFJIT_SOCKET="$TMP/d/sock" nft list chain ip t in | grep -c 'counter')
  fi
  local mk mn
  mk=$(echo "$ak" | median)
  mn=$(echo "$an" | median)
  case "$ak$an" in *FAILED*) mk="$ak"; mn="$an" ;; esac
  printf "| %-5s | %7d | %-10s | %-10s | %-10s | %-10s | %-17s | %s |\n" "$kind" "$n" "$(fmt "$ln")" "$(fmt "$lk")" \
    "$(fmt "$mn")" "$(fmt "$mk")" "$(rss)" "$cn / $ck"
}

echo "nft_scale: build $BUILD, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $ADDS adds (median)"
echo
echo "| what  |       N | load nfjit | load kern  | add nfjit  | add kern   | nfjitd RSS / peak | listed nfjit / kernel |"
echo "|---|---|---|---|---|---|---|---|"
for n in $SETS; do row set "$n"; done
for n in $CHAINS; do row chain "$n"; done
for n in $ANONS; do row anon "$n"; done
