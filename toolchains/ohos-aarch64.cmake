# OpenHarmony aarch64 (musl, static), with the OpenHarmony SDK's native
# toolchain (clang --target=aarch64-linux-ohos and its musl sysroot).
#   export OHOS_NDK_HOME=/opt/ohos-sdk/linux      # holds native/llvm, native/sysroot
#   PROFINFER_DEPS=$(toolchains/build_deps.sh aarch64-linux-ohos)
#   cmake -S . -B build-ohos -DCMAKE_TOOLCHAIN_FILE=toolchains/ohos-aarch64.cmake \
#         -DPROFINFER_DEPS=$PROFINFER_DEPS
# The SDK is not on this project's package mirrors: CI proves the same sources
# with aarch64-linux-musl.cmake (clang, aarch64, musl) instead.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT OHOS_NDK_HOME)
  set(OHOS_NDK_HOME "$ENV{OHOS_NDK_HOME}")
endif()
if(NOT EXISTS "${OHOS_NDK_HOME}/native/llvm/bin/clang")
  message(FATAL_ERROR "OHOS_NDK_HOME must name the OpenHarmony SDK directory that holds native/llvm/bin/clang")
endif()
if(NOT PROFINFER_DEPS)
  set(PROFINFER_DEPS "$ENV{PROFINFER_DEPS}")
endif()
if(NOT EXISTS "${PROFINFER_DEPS}/lib/libbpf.a")
  message(FATAL_ERROR "PROFINFER_DEPS must name the prefix built by toolchains/build_deps.sh aarch64-linux-ohos")
endif()
set(OHOS_NDK_HOME "${OHOS_NDK_HOME}" CACHE PATH "OpenHarmony SDK (native/)")
set(PROFINFER_DEPS "${PROFINFER_DEPS}" CACHE PATH "static dependencies for this target (toolchains/build_deps.sh)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES OHOS_NDK_HOME PROFINFER_DEPS)

set(CMAKE_C_COMPILER "${OHOS_NDK_HOME}/native/llvm/bin/clang")
set(CMAKE_C_COMPILER_TARGET aarch64-linux-ohos)
# --sysroot as a flag, not CMAKE_SYSROOT: pkg-config must not prefix the
# dependency prefix's absolute paths with the sysroot.
set(_sysroot "${OHOS_NDK_HOME}/native/sysroot")
set(CMAKE_C_FLAGS_INIT "--sysroot=${_sysroot} -I${PROFINFER_DEPS}/include")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static --sysroot=${_sysroot} -fuse-ld=lld -L${PROFINFER_DEPS}/lib")

set(CMAKE_FIND_ROOT_PATH "${PROFINFER_DEPS}" "${_sysroot}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${PROFINFER_DEPS}/lib/pkgconfig")
set(PROFINFER_NANOPB_SOURCE_DIR "${PROFINFER_DEPS}/nanopb" CACHE PATH "nanopb runtime sources")
