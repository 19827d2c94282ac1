#!/bin/bash
# One-rule changes in a large iptables chain (issue 6): N rules loaded with iptables-legacy-restore into
# a fresh nfjitd (through `nfjit exec`) and into the kernel's own ip_tables (another namespace), then the
# wall-clock time of single-rule commands, median of R runs each, nfjit against the kernel. See
# bench/README.md ("One-rule changes through iptables-legacy").
#
#   bash bench/xt_update/run.sh [--build DIR] [--sizes "100 1000 10000"] [--huge] [--reps R] [--stages]
#
#   --huge     also N = 100000 (nfjit may fail to load it: the row then says why)
#   --stages   run nfjitd with --debug and print, per N, its per-stage timings of the last -A and -D
#
# Needs root. Creates two network namespaces (nfjit-xu-PID-j for nfjitd, nfjit-xu-PID-k for the
# kernel) and a temporary directory; an EXIT trap stops the daemon it started (by pid) and deletes
# both. Rules use 198.19.0.0/16 (inside 198.18.0.0/15); no packet is sent.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=
SIZES="100 1000 10000"
REPS=5
STAGES=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --huge) SIZES="$SIZES 100000" ;;
    --reps) REPS=$2; shift ;;
    --stages) STAGES=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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
NFJIT=$BUILD/src/cli/nfjit
[ -x "$NFJITD" ] && [ -x "$NFJIT" ] && [ -f "$BUILD/src/preload/libnfjit-preload.so" ] || {
  echo "nfjitd/nfjit/libnfjit-preload.so not built in '${BUILD:-build-bench}':" >&2
  echo "  ninja -C DIR src/daemon/nfjitd src/cli/nfjit src/preload/libnfjit-preload.so" >&2
  exit 1; }
for tool in ip iptables-legacy iptables-legacy-restore iptables-legacy-save timeout awk; do
  command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

WD=$(mktemp -d /tmp/nfjit-xu-XXXXXX)
NS_J=nfjit-xu-$$-j   # nfjitd and its clients
NS_K=nfjit-xu-$$-k   # the kernel's ip_tables
DAEMON_PID=
LOAD_TIMEOUT=600
OP_TIMEOUT=300

stop_daemon() {
  [ -n "$DAEMON_PID" ] || return 0
  kill "$DAEMON_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$DAEMON_PID" 2>/dev/null
  DAEMON_PID=
}
teardown() {
  stop_daemon
  wait 2>/dev/null  # the foreground daemon's `ip netns exec` (--stages)
  ip netns del "$NS_J" 2>/dev/null
  ip netns del "$NS_K" 2>/dev/null
  return 0
}
cleanup() { teardown; rm -rf "$WD"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Rule i, as in bench/whole_path: -s 198.19.(i/250).(1+i%250)/32 -p udp --dport 20000+i -j DROP.
gen_rules() {  # N -> $WD/ipt-N.rules
  awk -v n="$1" 'BEGIN {
    print "*filter"; print ":INPUT ACCEPT [0:0]"; print ":FORWARD ACCEPT [0:0]"; print ":OUTPUT ACCEPT [0:0]"
    for (i = 0; i < n; i++)
      printf "-A INPUT -s 198.19.%d.%d/32 -p udp -m udp --dport %d -j DROP\n", int(i / 250), 1 + i % 250, 20000 + i
    print "COMMIT" }' >"$WD/ipt-$1.rules"
}

start_daemon() {
  rm -rf "$WD/state" "$WD/sock" "$WD/bpffs"
  mkdir -p "$WD/bpffs"
  # --strict: a table that cannot run as BPF is refused, never measured in the kernel by mistake.
  # The bpffs nfjitd mounts on $WD/bpffs lives in the mount namespace of `ip netns exec` and dies with it.
  local args=(--strict --socket "$WD/sock" --state-dir "$WD/state" --bpffs "$WD/bpffs")
  if [ $STAGES = 1 ]; then
    # In the foreground (in the background of this script), so its debug log stays in daemon.log.
    ip netns exec "$NS_J" "$NFJITD" -f --debug "${args[@]}" >"$WD/daemon.log" 2>&1 &
    for _ in $(seq 200); do [ -S "$WD/sock" ] && [ -s "$WD/state/nfjitd.pid" ] && break; sleep 0.05; done
    [ -S "$WD/sock" ] || return 1
  else
    ip netns exec "$NS_J" "$NFJITD" "${args[@]}" >"$WD/daemon.log" 2>&1 || return 1
  fi
  DAEMON_PID=$(cat "$WD/state/nfjitd.pid")
}

# timed ENGINE LIMIT CMD... : runs CMD in the engine's namespace (nfjit: through the shim), timed inside
# it so `ip netns exec` is not counted. Prints milliseconds; stdin from $STDIN_FILE; stderr to $WD/err.
timed() {
  local engine=$1 limit=$2; shift 2
  local ns=$NS_K pre=()
  [ "$engine" = nfjit ] && { ns=$NS_J; pre=("$NFJIT" exec --socket "$WD/sock" --); }
  ip netns exec "$ns" timeout "$limit" bash -c 's=$EPOCHREALTIME; "$@" >/dev/null 2>"'"$WD"'/err"; rc=$?
    e=$EPOCHREALTIME; echo "${s/,/.} ${e/,/.}" >"'"$WD"'/timing"; exit $rc' _ "${pre[@]}" "$@" \
    <"${STDIN_FILE:-/dev/null}"
  local rc=$?
  [ -s "$WD/timing" ] || { echo "timeout after ${limit}s" >>"$WD/err"; return 124; }
  awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' "$WD/timing"
  rm -f "$WD/timing"
  return $rc
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }
first_line() { grep -v '^\s*$' "$1" | head -1 | cut -c1-100; }

declare -A T NOTE
OPS=("load" "-A end" "-D end (spec)" "-I middle" "-D middle (spec)" "-R end" "-R middle")

# One engine at N: load, then REPS rounds of the single-rule commands. Each round leaves N rules.
run_engine() {
  local e=$1 n=$2 t
  STDIN_FILE=$WD/ipt-$n.rules t=$(timed "$e" $LOAD_TIMEOUT iptables-legacy-restore) || {
    NOTE[$e:$n]="load failed: $(first_line "$WD/err")"; return 1; }
  T[$e:$n:load]=$t
  local mid=$(( n / 2 + 1 )) last=$(( n > 0 ? n : 1 ))
  local new="-s 198.18.200.1/32 -p udp -m udp --dport 9 -j DROP"
  declare -A times=()
  local r op
  for r in $(seq "$REPS"); do
    local rep="-s 198.18.201.$r/32 -p udp -m udp --dport 10 -j DROP"
    local -a cmds=(
      "-A end|-A INPUT $new"
      "-D end (spec)|-D INPUT $new"
      "-I middle|-I INPUT $mid $new"
      "-D middle (spec)|-D INPUT $new"
      "-R end|-R INPUT $last $rep"
      "-R middle|-R INPUT $mid $rep")
    [ "$n" = 0 ] && cmds=("${cmds[@]:0:2}")
    for c in "${cmds[@]}"; do
      op=${c%%|*}
      # shellcheck disable=SC2086
      t=$(timed "$e" $OP_TIMEOUT iptables-legacy ${c#*|}) || {
        NOTE[$e:$n]="$op failed: $(first_line "$WD/err")"; return 1; }
      times[$op]+="$t "
    done
  done
  for op in "${!times[@]}"; do T[$e:$n:$op]=$(printf '%s\n' ${times[$op]} | median); done
}

echo "nfjit one-rule update benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs"
echo "build: $BUILD; N = $SIZES; median of $REPS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $SIZES; do
  gen_rules "$n"
  teardown
  ip netns add "$NS_J" && ip netns add "$NS_K" || { echo "cannot create namespaces" >&2; exit 1; }
  run_engine kernel "$n"
  if start_daemon; then
    if run_engine nfjit "$n"; then
      # Same commands, same rules: the listings must agree (counters aside). One after the other:
      # iptables holds /run/xtables.lock (shared by every namespace) while it prints.
      ip netns exec "$NS_K" iptables-legacy -S >"$WD/kernel.S"
      ip netns exec "$NS_J" "$NFJIT" exec --socket "$WD/sock" -- iptables-legacy -S >"$WD/nfjit.S"
      cmp -s "$WD/kernel.S" "$WD/nfjit.S" || NOTE[nfjit:$n]="listing differs from the kernel's!"
      kr=$(ip netns exec "$NS_J" iptables-legacy-save 2>/dev/null | grep -c '^-A')
      [ "$kr" = 0 ] || NOTE[nfjit:$n]="kernel table of nfjit's namespace holds $kr rules!"
    fi
    if [ $STAGES = 1 ]; then
      echo "--- N=$n: nfjitd stages of the last -R, -D and -A (daemon log, --debug)"
      grep -E 'debug: (sockopt|xt )' "$WD/daemon.log" | tail -n 16
    fi
    stop_daemon
  else
    NOTE[nfjit:$n]="nfjitd failed: $(first_line "$WD/daemon.log")"
  fi
done

printf '\n| %7s | %-17s | %10s | %10s | %8s |\n' N command "kernel ms" "nfjit ms" "nfjit/k"
printf '|---------|-------------------|------------|------------|----------|\n'
for n in $SIZES; do
  for op in "${OPS[@]}"; do
    k=${T[kernel:$n:$op]:-} j=${T[nfjit:$n:$op]:-}
    [ -z "$k$j" ] && continue
    ratio=$(awk -v k="$k" -v j="$j" 'BEGIN { if (k > 0 && j != "") printf "%.1f", j / k }')
    printf '| %7s | %-17s | %10s | %10s | %8s |\n' "$n" "$op" "${k:--}" "${j:--}" "$ratio"
  done
done
for k in "${!NOTE[@]}"; do echo "note $k: ${NOTE[$k]}"; done
