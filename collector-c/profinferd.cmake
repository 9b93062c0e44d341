# profinferd: the collector core library (pi_core) and its front end.
# Included from collector-c/CMakeLists.txt after the wire library (pi_wire).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED libbpf>=1.3)
pkg_check_modules(LIBELF REQUIRED libelf)
pkg_check_modules(CAPSTONE REQUIRED capstone)

# The target triple names the build in --version and in every trace:
# x86_64-linux-gnu, aarch64-linux-gnu, aarch64-linux-ohos, x86_64-linux-musl.
if(CMAKE_C_COMPILER_TARGET)
  set(PI_BUILD_TARGET "${CMAKE_C_COMPILER_TARGET}")
else()
  set(PI_BUILD_TARGET "${CMAKE_SYSTEM_PROCESSOR}-linux-gnu")
endif()
if(PROFINFER_STATIC)
  string(APPEND PI_BUILD_TARGET "-static")
endif()

add_library(pi_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/src/backend_ids.c
  ${CMAKE_CURRENT_LIST_DIR}/src/backend_probes.c
  ${CMAKE_CURRENT_LIST_DIR}/src/backend_sites.c
  ${CMAKE_CURRENT_LIST_DIR}/src/code_scan.c
  ${CMAKE_CURRENT_LIST_DIR}/src/collector.c
  ${CMAKE_CURRENT_LIST_DIR}/src/elf_file.c
  ${CMAKE_CURRENT_LIST_DIR}/src/engine_info.c
  ${CMAKE_CURRENT_LIST_DIR}/src/exit_watch.c
  ${CMAKE_CURRENT_LIST_DIR}/src/expert_routing.c
  ${CMAKE_CURRENT_LIST_DIR}/src/graph_assembler.c
  ${CMAKE_CURRENT_LIST_DIR}/src/intern.c
  ${CMAKE_CURRENT_LIST_DIR}/src/layout.c
  ${CMAKE_CURRENT_LIST_DIR}/src/level_switch.c
  ${CMAKE_CURRENT_LIST_DIR}/src/perf_counters.c
  ${CMAKE_CURRENT_LIST_DIR}/src/probe_plan.c
  ${CMAKE_CURRENT_LIST_DIR}/src/proc_maps.c
  ${CMAKE_CURRENT_LIST_DIR}/src/qos.c
  ${CMAKE_CURRENT_LIST_DIR}/src/sched_tracer.c
  ${CMAKE_CURRENT_LIST_DIR}/src/session_config.c
  ${CMAKE_CURRENT_LIST_DIR}/src/system_check.c
  ${CMAKE_CURRENT_LIST_DIR}/src/trace_emit.c
  ${CMAKE_CURRENT_LIST_DIR}/src/uprobe_attach.c)
target_compile_definitions(pi_core PUBLIC _GNU_SOURCE PI_BUILD_TARGET="${PI_BUILD_TARGET}")
target_include_directories(pi_core PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src ${LIBBPF_INCLUDE_DIRS} ${CAPSTONE_INCLUDE_DIRS})
target_link_libraries(pi_core PUBLIC pi_wire pi_bpf)
# Session configuration files are JSON (session_config.c): jsmn, a
# header-only tokenizer (Debian libjsmn-dev). Only that header is copied to
# an include directory of its own, so a cross build never sees the host's
# /usr/include; point JSMN_HEADER at another jsmn.h if needed.
find_file(JSMN_HEADER jsmn.h PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH REQUIRED)
configure_file(${JSMN_HEADER} ${CMAKE_CURRENT_BINARY_DIR}/jsmn/jsmn.h COPYONLY)
target_include_directories(pi_core PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/jsmn)

# profinferd serve: the device service (control socket, sessions, trace store).
add_library(pi_serve STATIC
  ${CMAKE_CURRENT_LIST_DIR}/src/auth_token.c
  ${CMAKE_CURRENT_LIST_DIR}/src/serve.c
  ${CMAKE_CURRENT_LIST_DIR}/src/serve_client.c
  ${CMAKE_CURRENT_LIST_DIR}/src/serve_allow.c
  ${CMAKE_CURRENT_LIST_DIR}/src/serve_session.c
  ${CMAKE_CURRENT_LIST_DIR}/src/trace_store.c)
target_link_libraries(pi_serve PUBLIC pi_core)

add_executable(profinferd ${CMAKE_CURRENT_LIST_DIR}/src/main.c)
target_link_libraries(profinferd PRIVATE pi_serve pi_core)
if(PROFINFER_STATIC)
  # libbpf needs libelf, which needs zlib and zstd: all as static archives.
  target_link_options(profinferd PRIVATE -static)
  target_link_libraries(profinferd PRIVATE bpf elf z zstd capstone pthread)
else()
  target_link_libraries(profinferd PRIVATE ${LIBBPF_LINK_LIBRARIES} ${LIBELF_LINK_LIBRARIES}
    ${CAPSTONE_LINK_LIBRARIES})
endif()

# Unit tests of the core that need no root and no BPF (ctest).
foreach(name code_scan graph_assembler perf_counters qos session_config expert_routing)
  add_executable(${name}_test ${CMAKE_CURRENT_LIST_DIR}/test/${name}_test.c)
  target_link_libraries(${name}_test PRIVATE pi_core ${LIBBPF_LINK_LIBRARIES} ${LIBELF_LINK_LIBRARIES}
    ${CAPSTONE_LINK_LIBRARIES})
  add_test(NAME ${name} COMMAND ${name}_test)
endforeach()
