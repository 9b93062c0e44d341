#!/usr/bin/env bash
# System packages: clang for BPF, libbpf >= 1.3 (bookworm-backports), bpftool,
# static libelf/zlib/zstd, nanopb, capstone, gdb and bpftrace for oracles.
source "$(dirname "$0")/common.sh"
require_root

PACKAGES=(
  clang-19 llvm-19 lld-19 make cmake pkg-config file git python3
  libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev
  libnanopb-dev nanopb protobuf-compiler python3-protobuf libcapstone-dev
  gdb bpftrace procps iproute2 util-linux
)
BACKPORTED=(libbpf-dev bpftool libelf-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# libbpf must be >= 1.3 (uprobe_multi API): bookworm itself only has 1.1.
if dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null | grep -q '^1:1\.[0-2]\.'; then
  missing+=(libbpf-dev)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

step "installing system packages: ${missing[*]}"
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Reuse the mirror this machine is already configured with.
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "cannot find the Debian mirror in /etc/apt to add bookworm-backports"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > /etc/apt/sources.list.d/profinfer-backports.sources
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  apt-get install -y -q -t bookworm-backports "${BACKPORTED[@]}" >/dev/null
fi
apt-get install -y -q "${missing[@]}" >/dev/null
