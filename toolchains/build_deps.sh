#!/usr/bin/env bash
# Builds the collector's dependencies as static archives for a target whose C
# library has no Debian packages: musl here, OpenHarmony's musl with its NDK.
# Sources are Debian's source packages (apt-get source), so this works offline
# from a Debian mirror; the result is cached per target and source version.
#
#   toolchains/build_deps.sh aarch64-linux-musl            # sysroot from Debian's musl-dev:arm64
#   OHOS_NDK_HOME=/opt/ohos-sdk/linux toolchains/build_deps.sh aarch64-linux-ohos
#
# Prints the prefix: PREFIX/{include,lib,lib/pkgconfig} and PREFIX/nanopb
# (the nanopb runtime sources, for PROFINFER_NANOPB_SOURCE_DIR).
set -euo pipefail

target="${1:?usage: build_deps.sh aarch64-linux-musl|aarch64-linux-ohos}"
cache="${PROFINFER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/profinfer}"
# Bump when a source version or a build option below changes.
DEPS_VERSION=2
SOURCES=(zlib/bookworm libzstd/bookworm elfutils/bookworm libbpf/bookworm-backports capstone/bookworm nanopb/bookworm)
root="$cache/cross/$target-v$DEPS_VERSION"
prefix="$root/prefix"
log="$root/build.log"
jobs="$(nproc)"

say() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi
mkdir -p "$root/src" "$prefix/include" "$prefix/lib/pkgconfig"
: >"$log"

# ---- the compiler for the target ------------------------------------------
case "$target" in
  aarch64-linux-musl)
    # A sysroot from Debian's musl-dev:arm64 plus the kernel's uapi headers
    # (arch-neutral linux/ and the arm64 asm/); libgcc from gcc's arm64 build.
    sysroot="$root/sysroot"
    [ -d /usr/include/aarch64-linux-musl ] || die "musl-dev:arm64 is not installed (scripts/setup/40_cross.sh installs it)"
    if [ ! -d "$sysroot" ]; then
      mkdir -p "$sysroot/usr/include" "$sysroot/usr/lib"
      cp -a /usr/include/aarch64-linux-musl/. "$sysroot/usr/include/"
      cp -a /usr/lib/aarch64-linux-musl/. "$sysroot/usr/lib/"
      ln -s /usr/include/linux "$sysroot/usr/include/linux"
      ln -s /usr/include/asm-generic "$sysroot/usr/include/asm-generic"
      ln -s /usr/include/aarch64-linux-gnu/asm "$sysroot/usr/include/asm"
    fi
    libgcc=/usr/lib/gcc/aarch64-linux-gnu/12
    CC="clang-19 --target=aarch64-linux-musl --sysroot=$sysroot"
    LDFLAGS_T="-fuse-ld=lld --rtlib=libgcc -B$libgcc -L$libgcc"
    ;;
  aarch64-linux-ohos)
    ndk="${OHOS_NDK_HOME:?set OHOS_NDK_HOME to the OpenHarmony SDK directory that holds native/}"
    sysroot="$ndk/native/sysroot"
    CC="$ndk/native/llvm/bin/clang --target=aarch64-linux-ohos --sysroot=$sysroot"
    LDFLAGS_T="-fuse-ld=lld"
    ;;
  *) die "unknown target $target (aarch64-linux-musl, aarch64-linux-ohos)" ;;
esac
CFLAGS_T="-O2 -g -fPIC -ffunction-sections -fdata-sections"
AR="llvm-ar-19"
RANLIB="llvm-ranlib-19"
command -v "$AR" >/dev/null || die "$AR not found (apt-get install llvm-19)"
export CC AR RANLIB

# ---- sources ---------------------------------------------------------------
fetch() { # name/suite -> unpacked source dir
  local pkg="${1%%/*}" dir
  dir=$(find "$root/src" -maxdepth 1 -type d -name "$pkg*" -o -maxdepth 1 -type d -name "${pkg#lib}-*" | head -n1)
  if [ -z "$dir" ]; then
    (cd "$root/src" && apt-get source -q --download-only "$1" >>"$log" 2>&1) ||
      die "cannot download the source of $1: add a deb-src entry for the Debian mirror (scripts/setup/40_cross.sh does)"
    for t in "$root"/src/"$pkg"_*.orig.tar.*; do
      case "$t" in *.asc) ;; *) tar -C "$root/src" -xf "$t" ;; esac
    done
    dir=$(find "$root/src" -maxdepth 1 -type d -name "$pkg*" -o -maxdepth 1 -type d -name "${pkg#lib}-*" | head -n1)
  fi
  [ -n "$dir" ] || die "no source directory for $1"
  echo "$dir"
}

build_zlib() {
  local d; d=$(fetch zlib/bookworm)
  say "zlib"
  (cd "$d" && CFLAGS="$CFLAGS_T" ./configure --static --prefix="$prefix" && make -j"$jobs" libz.a && make install) >>"$log" 2>&1
}

build_zstd() {
  local d; d=$(fetch libzstd/bookworm)
  say "zstd"
  (cd "$d/lib" && make -j"$jobs" libzstd.a CFLAGS="$CFLAGS_T" ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0 &&
    cp libzstd.a "$prefix/lib/" && cp zstd.h zstd_errors.h zdict.h "$prefix/include/") >>"$log" 2>&1
  printf 'prefix=%s\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\nName: zstd\nDescription: zstd\nVersion: 1.5.4\nLibs: -L${libdir} -lzstd\nCflags: -I${includedir}\n' \
    "$prefix" >"$prefix/lib/pkgconfig/libzstd.pc"
}

# elfutils' configure wants glibc extensions (argp, fts, obstack) for its
# tools; libelf needs none of them, so compile libelf's own sources directly.
build_libelf() {
  local d; d=$(fetch elfutils/bookworm)
  say "libelf"
  local b="$root/libelf-build"
  rm -rf "$b" && mkdir -p "$b"
  cat >"$b/config.h" <<'EOF'
#define _GNU_SOURCE 1
#define HAVE_VISIBILITY 1
#define USE_LOCKS 0
#define PACKAGE_NAME "elfutils"
#define PACKAGE_VERSION "0.188"
#define LOCALEDIR "/usr/share/locale"
#define DEFAULT_AR_DETERMINISTIC false
#define HAVE_DECL_MEMPCPY 1
#define HAVE_DECL_RAWMEMCHR 0
#define HAVE_DECL_POWEROF2 0
#define HAVE_DECL_REALLOCARRAY 1
#define HAVE_ERROR_H 0
#define HAVE_ERR_H 1
#define SIZEOF_LONG 8
#define CHECK_UNDEFINED_SYMBOLS 0
#include <eu-config.h>
EOF
  # glibc's error(3) and assert_perror, which elfutils' lib/system.h and
  # libelf use; musl has neither.
  cat >"$b/error.h" <<'EOF'
#ifndef PI_ERROR_SHIM_H
#define PI_ERROR_SHIM_H
void error(int status, int errnum, const char *format, ...);
void assert_perror(int errnum);
#endif
EOF
  cat >"$b/error_shim.c" <<'EOF'
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void error(int status, int errnum, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
	if (errnum)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
	if (status)
		exit(status);
}
void assert_perror(int errnum)
{
	if (errnum) {
		fprintf(stderr, "libelf: unexpected error: %s\n", strerror(errnum));
		abort();
	}
}
EOF
  local srcs=("$d"/libelf/*.c "$b/error_shim.c") f
  (
    cd "$b"
    for f in "${srcs[@]}"; do
      $CC $CFLAGS_T -std=gnu99 -DHAVE_CONFIG_H -D_GNU_SOURCE -I"$b" -I"$d/lib" -I"$d/libelf" -I"$prefix/include" \
        -Wno-everything -c "$f" -o "$(basename "$f" .c).o" || exit 1
    done
    $AR rcs "$prefix/lib/libelf.a" ./*.o
  ) >>"$log" 2>&1
  cp "$d/libelf/libelf.h" "$d/libelf/gelf.h" "$d/libelf/nlist.h" "$prefix/include/"
  printf 'prefix=%s\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\nName: libelf\nDescription: libelf\nVersion: 0.188\nLibs: -L${libdir} -lelf\nLibs.private: -lz -lzstd\nCflags: -I${includedir}\n' \
    "$prefix" >"$prefix/lib/pkgconfig/libelf.pc"
}

build_libbpf() {
  local d; d=$(fetch libbpf/bookworm-backports)
  say "libbpf"
  mkdir -p "$root/libbpf-build"
  (cd "$d/src" && make -j"$jobs" BUILD_STATIC_ONLY=y OBJDIR="$root/libbpf-build" PREFIX="$prefix" \
      LIBDIR="$prefix/lib" CFLAGS="$CFLAGS_T -I$prefix/include" \
      PKG_CONFIG_PATH="$prefix/lib/pkgconfig" install) >>"$log" 2>&1
}

build_capstone() {
  local d; d=$(fetch capstone/bookworm)
  say "capstone (x86 and arm64 disassemblers only)"
  (cd "$d" && make -j"$jobs" clean >/dev/null 2>&1 || true
   cd "$d" && CAPSTONE_ARCHS="x86 aarch64" CAPSTONE_SHARED=no CAPSTONE_STATIC=yes CFLAGS="$CFLAGS_T" \
     make -j"$jobs" CC="$CC" AR="$AR" RANLIB="$RANLIB" libcapstone.a &&
   cp libcapstone.a "$prefix/lib/" && mkdir -p "$prefix/include/capstone" && cp include/capstone/*.h "$prefix/include/capstone/") >>"$log" 2>&1
  printf 'prefix=%s\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\nName: capstone\nDescription: capstone\nVersion: 4.0.2\nLibs: -L${libdir} -lcapstone\nCflags: -I${includedir}/capstone\n' \
    "$prefix" >"$prefix/lib/pkgconfig/capstone.pc"
}

copy_nanopb() {
  local d; d=$(fetch nanopb/bookworm)
  mkdir -p "$prefix/nanopb"
  cp "$d"/pb.h "$d"/pb_common.[ch] "$d"/pb_decode.[ch] "$d"/pb_encode.[ch] "$prefix/nanopb/"
}

printf '==> building static dependencies for %s (log: %s)\n' "$target" "$log" >&2
build_zlib || die "zlib failed (log: $log)"
build_zstd || die "zstd failed (log: $log)"
build_libelf || die "libelf failed (log: $log)"
build_libbpf || die "libbpf failed (log: $log)"
build_capstone || die "capstone failed (log: $log)"
copy_nanopb || die "nanopb failed (log: $log)"
touch "$prefix/.complete"
echo "$prefix"
