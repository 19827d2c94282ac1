#!/bin/bash
# Whole-path benchmark (issues 3 and 6): the same generated ruleset of N non-matching rules in the
# receiver's INPUT, loaded into each engine in turn, a UDP flood across a veth pair between two fresh
# network namespaces, datagrams delivered per second, plus load time, time to add one rule, daemon RSS
# and BPF memory. See bench/whole_path/README.md.
#
#   bash bench/whole_path/run.sh [--quick] [--build DIR] [--seconds S] [--rounds R] [--sizes "0 100 1000"]
#                                [--engines "legacy iptnft nft nftset nfjit nfjitxdp"]
#
# Needs root. Touches nothing outside the namespaces it creates (addresses 198.18.0.0/15 only) and the
# temporary directory it makes; a trap removes both, and stops the daemon it started, on any exit.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=0
BUILD=
SECONDS_FLOOD=
SIZES=
ROUNDS=
ENGINES="legacy iptnft nft nftset nfjit nfjitxdp"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --build) BUILD=$2; shift ;;
    --seconds) SECONDS_FLOOD=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --engines) ENGINES=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ $QUICK = 1 ]; then
  : "${SECONDS_FLOOD:=1}" "${SIZES:=0 100 1000}" "${ROUNDS:=1}"
else
  : "${SECONDS_FLOOD:=3}" "${SIZES:=0 100 1000 10000}" "${ROUNDS:=3}"
fi
LOAD_TIMEOUT=180      # seconds allowed for one ruleset load (nfjit's verifier at 10,000 rules)
APPEND_TIMEOUT=60

[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, BPF, netfilter)" >&2; exit 1; }
if [ -z "$BUILD" ]; then
  for b in "${NFJIT_BUILD:-}" "$ROOT/build-bench" "$ROOT/build"; do
    [ -n "$b" ] && [ -x "$b/src/daemon/nfjitd" ] && { BUILD=$b; break; }
  done
fi
case $BUILD in /*) ;; ?*) BUILD=$PWD/$BUILD ;; esac
NFJITD=$BUILD/src/daemon/nfjitd
NFJIT=$BUILD/src/cli/nfjit
case " $ENGINES " in *" nfjit"*)
  [ -x "$NFJITD" ] && [ -x "$NFJIT" ] && [ -f "$BUILD/src/preload/libnfjit-preload.so" ] || {
    echo "nfjitd/nfjit/libnfjit-preload.so not built in '${BUILD:-build-bench}':" >&2
    echo "  meson setup build-bench && ninja -C build-bench src/daemon/nfjitd src/cli/nfjit src/preload/libnfjit-preload.so bench/whole_path/udpflood" >&2
    exit 1; } ;;
esac
for tool in ip iptables-legacy-restore iptables-nft-restore nft bpftool taskset timeout; do
  command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

WP=$(mktemp -d /tmp/nfjit-wp-XXXXXX)
NS_S=nfjit-wp-$$-s   # sender
NS_R=nfjit-wp-$$-r   # receiver: the rules live here
DAEMON_PID=

stop_daemon() {
  [ -n "$DAEMON_PID" ] || return 0
  kill "$DAEMON_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$DAEMON_PID" 2>/dev/null
  DAEMON_PID=
}
teardown() {
  stop_daemon
  # Our own background jobs only (receivers, senders), by pid.
  for p in $(jobs -p); do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$NS_S" 2>/dev/null
  ip netns del "$NS_R" 2>/dev/null
  return 0
}
cleanup() { teardown; rm -rf "$WP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The flood tool: the meson target if built, else compiled here (one file, no dependencies).
FLOOD=$BUILD/bench/whole_path/udpflood
if [ ! -x "$FLOOD" ]; then
  FLOOD=$WP/udpflood
  c++ -std=c++20 -O2 -o "$FLOOD" "$ROOT/bench/whole_path/udpflood.cc" || exit 1
fi

# --- the ruleset, generated deterministically -------------------------------------------------------
# Rule i: source 198.19.X.Y (X = i/250, Y = 1 + i%250), UDP destination port 20000+i, DROP. The flood
# comes from 198.18.0.1 to port 5001: no rule matches, every packet walks all N rules (worst case).
gen_rules() {  # N -> $WP/ipt-N.rules, nft-N.nft (one rule per pair), nftset-N.nft (one set)
  local n=$1
  awk -v n="$n" 'BEGIN {
    print "*filter"; print ":INPUT ACCEPT [0:0]"; print ":FORWARD ACCEPT [0:0]"; print ":OUTPUT ACCEPT [0:0]"
    for (i = 0; i < n; i++)
      printf "-A INPUT -s 198.19.%d.%d/32 -p udp -m udp --dport %d -j DROP\n", int(i / 250), 1 + i % 250, 20000 + i
    print "COMMIT" }' > "$WP/ipt-$n.rules"
  awk -v n="$n" 'BEGIN {
    print "table ip filter {"; print "  chain INPUT {"; print "    type filter hook input priority filter; policy accept;"
    for (i = 0; i < n; i++)
      printf "    ip saddr 198.19.%d.%d udp dport %d drop\n", int(i / 250), 1 + i % 250, 20000 + i
    print "  }"; print "}" }' > "$WP/nft-$n.nft"
  awk -v n="$n" 'BEGIN {
    print "table ip filter {"; print "  set wp {"; print "    type ipv4_addr . inet_service"
    if (n > 0) {
      printf "    elements = {"
      for (i = 0; i < n; i++)
        printf "%s198.19.%d.%d . %d", (i ? ", " : " "), int(i / 250), 1 + i % 250, 20000 + i
      print " }"
    }
    print "  }"; print "  chain INPUT {"; print "    type filter hook input priority filter; policy accept;"
    print "    ip saddr . udp dport @wp drop"; print "  }"; print "}" }' > "$WP/nftset-$n.nft"
}

# --- namespaces ------------------------------------------------------------------------------------
in_s() { ip netns exec "$NS_S" "$@"; }
in_r() { ip netns exec "$NS_R" "$@"; }

setup_ns() {
  ip netns add "$NS_S" && ip netns add "$NS_R" || return 1
  ip -n "$NS_S" link add vs type veth peer name vr netns "$NS_R" || return 1
  ip -n "$NS_S" link set lo up && ip -n "$NS_R" link set lo up
  ip -n "$NS_S" addr add 198.18.0.1/24 dev vs && ip -n "$NS_R" addr add 198.18.0.2/24 dev vr
  ip -n "$NS_S" link set vs up && ip -n "$NS_R" link set vr up
}

# Run a command in the receiver's namespace and time it there (so `ip netns exec` itself is not
# counted). Prints the seconds taken; the command's stderr goes to $WP/err.
timed_in_r() {
  local limit=$1; shift
  in_r timeout "$limit" bash -c 's=$EPOCHREALTIME; "$@" >/dev/null 2>"'"$WP"'/err"; rc=$?
    e=$EPOCHREALTIME; echo "$rc ${s/,/.} ${e/,/.}" >"'"$WP"'/timing"; exit $rc' _ "$@" <"${STDIN_FILE:-/dev/null}"
  local rc=$?
  [ -s "$WP/timing" ] || { echo "timeout after ${limit}s" >>"$WP/err"; rm -f "$WP/timing"; return 124; }
  awk '{ printf "%.4f\n", $3 - $2 }' "$WP/timing"
  rm -f "$WP/timing"
  return $rc
}

udp_snmp() {  # InDatagrams RcvbufErrors of the receiver's namespace
  in_r awk '/^Udp:/ { if (h) { print $2, $6; exit } h = 1 }' /proc/net/snmp
}

# One flood: receiver on CPU 1, sender on CPU 0 (the veth receive path, rules included, runs in the
# sender's softirq on CPU 0); both at nice -15 so that other work on a shared machine disturbs less.
# Prints "median_pps mean_pps received sent rcvbuf_errors" (see udpflood.cc for how rates are taken).
flood() {
  local secs=$1
  rm -f "$WP/ready"
  in_r nice -n -15 taskset -c 1 "$FLOOD" recv --port 5001 --ready "$WP/ready" --idle-ms 400 --max-seconds 60 \
    >"$WP/recv.out" 2>&1 &
  local rpid=$!
  for _ in $(seq 100); do [ -e "$WP/ready" ] && break; sleep 0.05; done
  local before; before=$(udp_snmp)
  in_s nice -n -15 taskset -c 0 "$FLOOD" send --dst 198.18.0.2 --port 5001 --seconds "$secs" >"$WP/send.out" 2>&1
  # The receiver ends after 400 ms of silence; one that got nothing (a dropping rule) is stopped.
  for _ in $(seq 10); do kill -0 $rpid 2>/dev/null || break; sleep 0.1; done
  # Stop the receiver by the pid it wrote (`ip netns exec` may run it as a child of $rpid).
  local fpid; fpid=$(cat "$WP/ready" 2>/dev/null)
  [ -n "$fpid" ] && kill -TERM "$fpid" 2>/dev/null
  kill -TERM $rpid 2>/dev/null
  wait $rpid
  local after; after=$(udp_snmp)
  local median mean delivered sent
  median=$(sed -n 's/.* pps=\([0-9]*\).*/\1/p' "$WP/recv.out")
  mean=$(sed -n 's/.*mean_pps=\([0-9]*\).*/\1/p' "$WP/recv.out")
  delivered=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$WP/recv.out")
  sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$WP/send.out")
  echo "${median:-0} ${mean:-0} ${delivered:-0} ${sent:-0} $(( ${after#* } - ${before#* } ))"
}

# Memory the daemon holds: VmRSS, and the BPF maps and programs it references. Map ids come from the
# daemon's own fds (fdinfo map_id / prog_id) plus the maps its programs use; memlock from bpftool.
daemon_memory() {  # -> "rss_kib map_kib prog_kib"
  local pid=$1 rss maps progs
  rss=$(awk '/^VmRSS:/ { print $2 }' /proc/"$pid"/status)
  maps=$(grep -h '^map_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un)
  progs=$(grep -h '^prog_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un)
  bpftool prog show --json >"$WP/progs.json" 2>/dev/null
  bpftool map show --json >"$WP/maps.json" 2>/dev/null
  python3 - "$rss" "$(echo $maps)" "$(echo $progs)" "$WP/progs.json" "$WP/maps.json" <<'PY' 2>/dev/null || echo "$rss ? ?"
import json, sys
rss, maps, progs = sys.argv[1], set(map(int, sys.argv[2].split())), set(map(int, sys.argv[3].split()))
prog_list = json.load(open(sys.argv[4]))
map_list = json.load(open(sys.argv[5]))
prog_bytes = 0
for p in prog_list:
    if p['id'] in progs:
        prog_bytes += p.get('bytes_memlock', 0)
        maps.update(p.get('map_ids', []))
map_bytes = sum(m.get('bytes_memlock', 0) for m in map_list if m['id'] in maps)
print(rss, round(map_bytes / 1024), round(prog_bytes / 1024))
PY
}

start_daemon() {  # [extra args] -> sets DAEMON_PID
  rm -rf "$WP/state" "$WP/sock"
  mkdir -p "$WP/bpffs"
  # --strict: a table that cannot run as BPF is refused, never silently passed to the kernel (which
  # would measure the kernel). --bpffs on a private directory: nfjitd mounts a bpffs there, inside the
  # mount namespace of `ip netns exec`, which dies with the daemon.
  in_r "$NFJITD" --strict --socket "$WP/sock" --state-dir "$WP/state" --bpffs "$WP/bpffs" "$@" \
    >"$WP/daemon.log" 2>&1 || { DAEMON_PID=; return 1; }
  DAEMON_PID=$(cat "$WP/state/nfjitd.pid")
}

# --- one measurement: engine E at N rules ----------------------------------------------------------
declare -A SPREAD PPS MEAN LOAD APPEND VERIFY RSS MAPK PROGK NOTE
ROWS=()

first_line() { grep -v '^\s*$' "$1" | grep -iv '^warning' | head -1 | cut -c1-110; }

measure() {
  local e=$1 n=$2 key="$1:$2@$3" t rc
  teardown
  setup_ns || { NOTE[$key]="namespace setup failed"; return; }
  local load=() append_cmd=() append_stdin= match_stdin=
  local rule_extra="-s 198.19.255.%d/32 -p udp -m udp --dport 9 -j DROP"
  case $e in
    none) ;;
    legacy) load=(iptables-legacy-restore); STDIN_FILE=$WP/ipt-$n.rules ;;
    iptnft) load=(iptables-nft-restore); STDIN_FILE=$WP/ipt-$n.rules ;;
    nft) load=(nft -f "$WP/nft-$n.nft") ;;
    nftset) load=(nft -f "$WP/nftset-$n.nft") ;;
    nfjit|nfjitxdp)
      local xdp=(); [ $e = nfjitxdp ] && xdp=(--xdp vr)
      if ! start_daemon "${xdp[@]}"; then NOTE[$key]="nfjitd failed: $(first_line "$WP/daemon.log")"; return; fi
      load=("$NFJIT" exec --socket "$WP/sock" -- iptables-legacy-restore); STDIN_FILE=$WP/ipt-$n.rules ;;
  esac
  if [ ${#load[@]} -gt 0 ]; then
    t=$(timed_in_r $LOAD_TIMEOUT "${load[@]}"); rc=$?
    unset STDIN_FILE
    if [ $rc != 0 ]; then
      LOAD[$key]="fail"
      NOTE[$key]="load failed (rc $rc): $(first_line "$WP/err")"
      return
    fi
    LOAD[$key]=$t
  fi
  case $e in
    nfjit|nfjitxdp)
      # nfjit's rows must measure nfjit: the kernel's own filter table in the namespace stays empty.
      local kernel_rules; kernel_rules=$(in_r iptables-legacy-save 2>/dev/null | grep -c '^-A')
      [ "$kernel_rules" = 0 ] || NOTE[$key]="kernel table holds $kernel_rules rules!"
      if [ $e = nfjitxdp ] && ! ip -n "$NS_R" link show vr | grep -q xdp; then
        NOTE[$key]="n/a: nfjitd --xdp vr attached no XDP program"
        PPS[$key]=; return
      fi
      read -r RSS[$key] MAPK[$key] PROGK[$key] <<<"$(daemon_memory "$DAEMON_PID")" ;;
  esac

  local median mean delivered sent rcvbuf
  read -r median mean delivered sent rcvbuf <<<"$(flood "$SECONDS_FLOOD")"
  PPS[$key]=$median; MEAN[$key]=$mean
  [ "$rcvbuf" -gt 0 ] 2>/dev/null && NOTE[$key]="${NOTE[$key]:-}rcvbuf drops $rcvbuf; "

  [ $e = none ] && return
  # Add one rule at N (median of 3): two that match nothing, then one that drops the flood, checked
  # with a short flood: the engine really sits on the path and walks every rule before the new one.
  local times=() i
  for i in 1 2 3; do
    local src="198.19.255.$i/32" port=$((9 + i))
    [ $i = 3 ] && { src=198.18.0.1/32; port=5001; }
    case $e in
      legacy) append_cmd=(iptables-legacy -A INPUT -s $src -p udp -m udp --dport $port -j DROP) ;;
      iptnft) append_cmd=(iptables-nft -A INPUT -s $src -p udp -m udp --dport $port -j DROP) ;;
      nft) append_cmd=(nft add rule ip filter INPUT ip saddr ${src%/32} udp dport $port drop) ;;
      nftset) append_cmd=(nft add element ip filter wp "{ ${src%/32} . $port }") ;;
      nfjit|nfjitxdp) append_cmd=("$NFJIT" exec --socket "$WP/sock" -- iptables-legacy -A INPUT -s $src -p udp -m udp --dport $port -j DROP) ;;
    esac
    t=$(timed_in_r $APPEND_TIMEOUT "${append_cmd[@]}"); rc=$?
    if [ $rc != 0 ]; then NOTE[$key]="${NOTE[$key]:-}append failed: $(first_line "$WP/err"); "; break; fi
    times+=("$t")
  done
  [ ${#times[@]} = 3 ] && APPEND[$key]=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
  if [ ${#times[@]} = 3 ]; then
    read -r _ _ delivered sent _ <<<"$(flood 0.3)"
    VERIFY[$key]="$delivered/$sent"
    [ "$delivered" = 0 ] || NOTE[$key]="${NOTE[$key]:-}matching rule let $delivered of $sent through! "
  fi
}

# --- run -------------------------------------------------------------------------------------------
START=$EPOCHSECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "nfjit whole-path benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs"
echo "flood ${SECONDS_FLOOD}s per measurement, 64-byte UDP payloads, N = $SIZES, engines: none $ENGINES"
echo "build: $BUILD"
for n in $SIZES; do gen_rules "$n"; done

# Rounds: every (engine, N) is measured once per round, rounds one after another, so slow drift and
# other work on the machine spread over all engines. A baseline precedes every N and closes the run.
XDP_AVAILABLE=1
ROWS=("none:0")
for n in $SIZES; do for e in $ENGINES; do ROWS+=("$e:$n"); done; done
ROWS+=("none:end")
for r in $(seq "$ROUNDS"); do
  echo "round $r of $ROUNDS" >&2
  for n in $SIZES; do
    # A baseline before every N of every round: on a shared machine the load comes and goes, and
    # the baseline must get as many chances at a quiet moment as the engines.
    measure none 0 "$r.$n"
    printf '  %-8s N=%-6s ... %s pps\n' none 0 "${PPS[none:0@$r.$n]:-—}" >&2
    for e in $ENGINES; do
      if [ $e = nfjitxdp ] && [ $XDP_AVAILABLE = 0 ]; then continue; fi
      printf '  %-8s N=%-6s ... ' "$e" "$n" >&2
      measure "$e" "$n" "$r"
      printf '%s pps %s\n' "${PPS[$e:$n@$r]:-—}" "${NOTE[$e:$n@$r]:-}" >&2
      if [ $e = nfjitxdp ] && [[ ${NOTE[$e:$n@$r]:-} == n/a* ]]; then XDP_AVAILABLE=0; fi
    done
  done
done
measure none end 1
teardown

# One row per (engine, N) over the rounds: the best round's rate (other work on the machine only
# slows the path down), the shortest load and add times, memory of the last round that has it, and
# the spread of rates between rounds as a noise figure.
for key in "${ROWS[@]}"; do
  best=; worst=; notes=
  rounds=$(seq "$ROUNDS")
  [ "$key" = none:0 ] && rounds=$(for r in $(seq "$ROUNDS"); do for n in $SIZES; do echo "$r.$n"; done; done)
  for r in $rounds; do
    k="$key@$r"
    p=${PPS[$k]:-}
    if [ -n "$p" ]; then
      if [ -z "$best" ] || [ "$p" -gt "$best" ]; then best=$p; MEAN[$key]=${MEAN[$k]:-}; fi
      if [ -z "$worst" ] || [ "$p" -lt "$worst" ]; then worst=$p; fi
    fi
    for f in LOAD APPEND; do
      declare -n arr=$f
      v=${arr[$k]:-}
      if [ -n "$v" ]; then
        if [ -z "${arr[$key]:-}" ] || [ "$v" = fail ] || { [ "${arr[$key]}" != fail ] && awk -v a="$v" -v b="${arr[$key]}" 'BEGIN { exit !(a < b) }'; }; then
          arr[$key]=$v
        fi
      fi
      unset -n arr
    done
    [ -n "${VERIFY[$k]:-}" ] && [ -z "${VERIFY[$key]:-}" -o "${VERIFY[$k]%%/*}" != 0 ] && VERIFY[$key]=${VERIFY[$k]}
    [ -n "${RSS[$k]:-}" ] && { RSS[$key]=${RSS[$k]}; MAPK[$key]=${MAPK[$k]}; PROGK[$key]=${PROGK[$k]}; }
    [ -n "${NOTE[$k]:-}" ] && [[ "$notes" != *"${NOTE[$k]}"* ]] && notes="$notes${NOTE[$k]} "
  done
  PPS[$key]=$best
  NOTE[$key]=$notes
  [ -n "$best" ] && [ "$best" -gt 0 ] && SPREAD[$key]=$(awk -v a="$best" -v b="$worst" 'BEGIN { printf "%.0f%%", 100 * (a - b) / a }')
done

B1=${PPS[none:0]:-0}; B2=${PPS[none:end]:-0}
BASE=$(( B1 > B2 ? B1 : B2 ))
pct() { [ -n "$1" ] && [ "${BASE:-0}" -gt 0 ] && awk -v a="$1" -v b="$BASE" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" -gt 0 ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "Baseline (no rules, no engine, pps): best of $(( ROUNDS * $(echo $SIZES | wc -w) )) floods $B1, at the end $B2, used $BASE (the higher). Load average: start $LOAD0, end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| %-9s | %6s | %9s | %7s | %6s | %9s | %8s | %8s | %12s | %8s | %8s | %9s | %s\n' \
  engine N "pps" "of base" spread "mean pps" "load s" "add 1 ms" "verify" "RSS MiB" "maps KiB" "progs KiB" notes
printf '|%s\n' "-----------|--------|-----------|---------|--------|-----------|----------|----------|--------------|----------|----------|-----------|------"
for key in "${ROWS[@]}"; do
  e=${key%%:*}; n=${key#*:}
  [ -z "${PPS[$key]:-}${NOTE[$key]:-}${LOAD[$key]:-}" ] && continue  # not measured (XDP unavailable)
  [ "$n" = end ] && { e="none/end"; n=0; }
  ms=; [ -n "${APPEND[$key]:-}" ] && ms=$(awk -v s="${APPEND[$key]}" 'BEGIN { printf "%.1f", 1000 * s }')
  rss=; [ -n "${RSS[$key]:-}" ] && rss=$(awk -v k="${RSS[$key]}" 'BEGIN { printf "%.1f", k / 1024 }')
  ld=${LOAD[$key]:-}; [ -n "$ld" ] && [ "$ld" != fail ] && ld=$(awk -v s="$ld" 'BEGIN { printf "%.3f", s }')
  printf '| %-9s | %6s | %9s | %7s | %6s | %9s | %8s | %8s | %12s | %8s | %8s | %9s | %s\n' "$e" "$n" "${PPS[$key]:-—}" \
    "$(pct "${PPS[$key]:-}")" "${SPREAD[$key]:-}" "${MEAN[$key]:-}" "${ld:-}" "$ms" "${VERIFY[$key]:-}" "$rss" "${MAPK[$key]:-}" "${PROGK[$key]:-}" \
    "${NOTE[$key]:-}"
done
echo
echo "nfjit against the kernel at each N (packets/s ratio; >1 means nfjit delivers more):"
printf '| %6s | %9s | %9s | %9s | %9s | %9s | %12s | %12s | %12s\n' N legacy iptnft nft nftset nfjit \
  "nfjit/legacy" "nfjit/iptnft" "nfjit/nft"
printf '|%s\n' "--------|-----------|-----------|-----------|-----------|-----------|--------------|--------------|-------------"
for n in $SIZES; do
  printf '| %6s | %9s | %9s | %9s | %9s | %9s | %12s | %12s | %12s\n' "$n" "${PPS[legacy:$n]:-—}" \
    "${PPS[iptnft:$n]:-—}" "${PPS[nft:$n]:-—}" "${PPS[nftset:$n]:-—}" "${PPS[nfjit:$n]:-—}" \
    "$(ratio "${PPS[nfjit:$n]:-}" "${PPS[legacy:$n]:-}")" "$(ratio "${PPS[nfjit:$n]:-}" "${PPS[iptnft:$n]:-}")" \
    "$(ratio "${PPS[nfjit:$n]:-}" "${PPS[nft:$n]:-}")"
done
echo
echo "pps: UDP datagrams per second past the receiver's INPUT hook (kernel UDP counters of the receiving"
echo "  namespace): median of 100 ms intervals (used for every ratio); mean pps: over the whole flood;"
echo "  Each figure is the best of $ROUNDS round(s); spread = (best - worst) / best over the rounds;"
echo "  load s / add 1 ms: the shortest over the rounds (add 1 ms: median of three single-rule additions);"
echo "verify: delivered/sent in a 0.3 s flood after appending a rule that drops it (must be 0/...)."
echo "Figures are noisy; only ratios within one run count. Total time: $((EPOCHSECONDS - START)) s."
