#!/usr/bin/env bash
# Installs every Debian package nfjit builds, tests and benchmarks with. Idempotent; needs root.
set -euo pipefail

PKGS=(
  build-essential g++ meson ninja-build pkg-config python3
  libbpf-dev libelf-dev zlib1g-dev bpftool
  libnftnl-dev libmnl-dev libnl-3-dev libnl-route-3-dev libcap-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iptables nftables iproute2 iputils-ping netcat-openbsd strace procps kmod
  clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
