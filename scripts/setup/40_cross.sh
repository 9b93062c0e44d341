#!/usr/bin/env bash
# Cross builds of the collector (toolchains/), each a static executable:
#   build-aarch64/  Linux aarch64, glibc: clang + Debian's arm64 multiarch archives
#   build-musl/     Linux aarch64, musl: the stand-in for OpenHarmony; its
#                   dependencies are built from Debian source packages
#                   (toolchains/build_deps.sh, cached in ~/.cache/profinfer/cross)
# and qemu-user to run their tests, --version and --check here.
source "$(dirname "$0")/common.sh"
require_root
cd "$PROFINFER_ROOT"

# The arm64 archives must be the same versions as the amd64 ones installed
# (Multi-Arch: same); --no-remove makes apt fail instead of removing the
# host's packages to resolve a version skew.
ARM64_PACKAGES=(libc6-dev:arm64 libgcc-12-dev:arm64 libbpf-dev:arm64 libelf-dev:arm64
  zlib1g-dev:arm64 libzstd-dev:arm64 libcapstone-dev:arm64 libnanopb-dev:arm64 musl-dev:arm64)
HOST_PACKAGES=(qemu-user-static binutils-aarch64-linux-gnu)

missing=()
for p in "${HOST_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "cross-build packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -q >/dev/null
  # libbpf-dev must match the host's backported 1.4.
  want=()
  for p in "${missing[@]}"; do
    case "$p" in libbpf-dev:arm64) want+=("libbpf-dev:arm64/bookworm-backports") ;; *) want+=("$p") ;; esac
  done
  . /etc/os-release
  [ "${VERSION_CODENAME:-}" = bookworm ] || want=("${missing[@]}")
  apt-get install -y -q --no-remove "${want[@]}" >/dev/null ||
    die "could not install the arm64 cross-build packages without removing host packages (versions differ from the host's?): apt-get install --no-remove ${want[*]}"
fi

step "cross-building the collector for aarch64 (build-aarch64/)"
log="$PROFINFER_CACHE/collector-build-aarch64.log"
if ! { cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
         -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build build-aarch64 -j"$(nproc)" --target profinferd llama_abi_test golden_test encode_test; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "the aarch64 collector did not build (full log: $log)"
fi

# build_deps.sh takes the musl build's sources from Debian's source packages.
if ! grep -rqs "^Types: deb-src" /etc/apt/sources.list.d/; then
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || die "cannot find the Debian mirror in /etc/apt to add a deb-src entry"
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > /etc/apt/sources.list.d/profinfer-src.sources
  apt-get update -q >/dev/null
fi

step "cross-building the collector for aarch64 musl (build-musl/)"
log="$PROFINFER_CACHE/collector-build-musl.log"
deps=$(bash toolchains/build_deps.sh aarch64-linux-musl) || die "the musl dependencies did not build"
if ! { cmake -S . -B build-musl -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-musl.cmake \
         -DPROFINFER_DEPS="$deps" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build build-musl -j"$(nproc)" --target profinferd llama_abi_test golden_test encode_test; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "the musl collector did not build (full log: $log)"
fi
