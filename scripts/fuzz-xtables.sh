#!/bin/sh
# Builds the xtables blob fuzzer with clang (libFuzzer + ASan + UBSan) against the front-end sources and
# runs it. Usage: scripts/fuzz-xtables.sh [seconds=60] [extra libFuzzer args...]
# Seeds: the table blobs in tests/data/xtables/seeds (one byte family selector + an ipt_replace).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-/tmp/nfjit-fuzz-xtables}
secs=${1:-60}
[ $# -gt 0 ] && shift
mkdir -p "$out/corpus"
x="$root/src/frontend/xtables"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
  -I"$root/include" -I"$root/src" \
  "$root/tests/xtables/fuzz_blob.cc" "$x"/abi.cc "$x"/blob.cc "$x"/extension_check.cc "$x"/tables.cc \
  "$x"/lower.cc "$x"/entries_reply.cc "$x"/decode/*.cc "$root/src/ir/ir.cc" \
  -o "$out/fuzz_blob"
seeds="$root/tests/data/xtables/seeds"
[ -d "$seeds" ] && cp -n "$seeds"/* "$out/corpus/" 2>/dev/null || true
"$out/fuzz_blob" -max_total_time="$secs" -max_len=65536 "$@" "$out/corpus"
