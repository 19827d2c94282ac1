#!/bin/sh
# Builds the nf_tables server with clang + libFuzzer/ASan/UBSan and runs it for $1 seconds (default 60).
# The corpus starts from valid batches: tests/data/nftables/*.nft are not netlink, so seeds come from
# the fuzzer itself; crashes land in build-fuzz-nft/.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz-nft
mkdir -p "$out/corpus"
flags="-g -O1 -std=c++20 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Isrc"
clang++ $flags tests/nftables/fuzz_nft_server.cc src/frontend/nftables/*.cc \
  -lnftnl -lmnl -o "$out/fuzz_nft_server"
"$out/fuzz_nft_server" -max_total_time="$secs" -max_len=4096 -artifact_prefix="$out/" "$out/corpus"
