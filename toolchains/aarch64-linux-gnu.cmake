# Linux aarch64, glibc, static: Ubuntu boards (RK3588, QCS6490).
# Cross-built on Debian/Ubuntu x86-64 with clang and the arm64 (multiarch)
# packages: glibc, libgcc and the static archives of libbpf, libelf, zlib,
# zstd, capstone and nanopb (scripts/setup/40_cross.sh installs them). clang
# rather than Debian's gcc cross compiler: that one puts its own, older kernel
# headers first, and clang is what the OpenHarmony NDK uses.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
find_program(CMAKE_C_COMPILER NAMES clang-19 clang REQUIRED)
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
# Only the multiarch layout: Debian's gcc cross packages (musl-dev:arm64
# pulls them in) add /usr/aarch64-linux-gnu/include, whose kernel headers
# are older (no uprobe_multi), ahead of it in clang's default search.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-resource-dir OUTPUT_VARIABLE _clang_res
                OUTPUT_STRIP_TRAILING_WHITESPACE)
set(CMAKE_C_FLAGS_INIT "-nostdinc -isystem ${_clang_res}/include -isystem /usr/include/aarch64-linux-gnu -isystem /usr/include")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld -L/usr/lib/aarch64-linux-gnu")
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Headers and archives of the target only; programs (clang, bpftool) of the host.
set(CMAKE_FIND_ROOT_PATH /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# Unit tests built for the target run under qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
