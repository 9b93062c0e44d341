# Linux aarch64, musl, static: the stand-in here for OpenHarmony (also
# aarch64 + musl + clang; see ohos-aarch64.cmake). Its dependencies have no
# Debian packages for musl, so toolchains/build_deps.sh builds them from
# Debian's source packages into a cached prefix first:
#   PROFINFER_DEPS=$(toolchains/build_deps.sh aarch64-linux-musl)
#   cmake -S . -B build-musl -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-musl.cmake \
#         -DPROFINFER_DEPS=$PROFINFER_DEPS
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
find_program(CMAKE_C_COMPILER NAMES clang-19 clang REQUIRED)
set(CMAKE_C_COMPILER_TARGET aarch64-linux-musl)

if(NOT PROFINFER_DEPS)
  set(PROFINFER_DEPS "$ENV{PROFINFER_DEPS}")
endif()
if(NOT EXISTS "${PROFINFER_DEPS}/lib/libbpf.a")
  message(FATAL_ERROR "PROFINFER_DEPS must name the prefix built by toolchains/build_deps.sh aarch64-linux-musl")
endif()
set(PROFINFER_DEPS "${PROFINFER_DEPS}" CACHE PATH "static dependencies for this target (toolchains/build_deps.sh)")
# CMake's compiler checks re-read this file in a nested project.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES PROFINFER_DEPS)
# musl's headers and crt files (the sysroot build_deps.sh assembled), libgcc
# from gcc's arm64 build (clang's compiler-rt is not packaged for arm64).
set(_sysroot "${PROFINFER_DEPS}/../sysroot")
set(_libgcc /usr/lib/gcc/aarch64-linux-gnu/12)
set(CMAKE_C_FLAGS_INIT "--sysroot=${_sysroot} -I${PROFINFER_DEPS}/include")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static --sysroot=${_sysroot} -fuse-ld=lld --rtlib=libgcc -B${_libgcc} -L${_libgcc} -L${PROFINFER_DEPS}/lib")

set(CMAKE_FIND_ROOT_PATH "${PROFINFER_DEPS}" "${_sysroot}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${PROFINFER_DEPS}/lib/pkgconfig")
set(PROFINFER_NANOPB_SOURCE_DIR "${PROFINFER_DEPS}/nanopb" CACHE PATH "nanopb runtime sources")

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
