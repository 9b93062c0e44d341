#!/usr/bin/env bash
# System packages: clang for BPF, libbpf >= 1.3 (bookworm-backports), bpftool,
# static libelf/zlib/zstd, nanopb, capstone, jsmn (header-only JSON tokenizer for
# session configuration files), gdb and bpftrace for oracles.
source "$(dirname "$0")/common.sh"
require_root

PACKAGES=(
  clang-19 llvm-19 lld-19 make cmake pkg-config file git python3
  libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev
  libnanopb-dev nanopb protobuf-compiler python3-protobuf libcapstone-dev libjsmn-dev
  gdb bpftrace procps iproute2 util-linux chromium
)
BACKPORTED=(libbpf-dev bpftool)

# elfutils 0.192 (bookworm-backports) ships a libelf.a that needs libeu.a,
# which no package ships, so a static link fails: keep bookworm's 0.188.
static_libelf_ok() {
  ! nm /usr/lib/*-linux-gnu/libelf.a 2>/dev/null | grep -q ' U eu_search_tree_init'
}

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# libbpf must be >= 1.3 (uprobe_multi API): bookworm itself only has 1.1.
if dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null | grep -q '^1:1\.[0-2]\.'; then
  missing+=(libbpf-dev)
fi
static_libelf_ok || missing+=(libelf-dev)
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
  # pkg/release takes the backport of these packages only, not of their dependencies.
  apt-get install -y -q "${BACKPORTED[@]/%//bookworm-backports}" >/dev/null
  static_libelf_ok || apt-get install -y -q --allow-downgrades libelf-dev/bookworm libelf1/bookworm >/dev/null
fi
apt-get install -y -q "${missing[@]}" >/dev/null
static_libelf_ok || die "libelf.a cannot be linked statically (elfutils 0.192 needs libeu.a): install bookworm's libelf-dev 0.188"
