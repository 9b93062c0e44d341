# profinferd: the collector core library (pi_core) and its front end.
# Included from collector-c/CMakeLists.txt after the wire library (pi_wire).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED libbpf>=1.3)
pkg_check_modules(LIBELF REQUIRED libelf)
pkg_check_modules(CAPSTONE REQUIRED capstone)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(PI_BUILD_TARGET "x86_64-linux-gnu")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(PI_BUILD_TARGET "aarch64-linux")
else()
  set(PI_BUILD_TARGET "${CMAKE_SYSTEM_PROCESSOR}-linux")
endif()
if(PROFINFER_STATIC)
  string(APPEND PI_BUILD_TARGET "-static")
endif()

add_library(pi_core STATIC
  ${CMAKE_CURRENT_LIST_DIR}/src/code_scan.c
  ${CMAKE_CURRENT_LIST_DIR}/src/collector.c
  ${CMAKE_CURRENT_LIST_DIR}/src/elf_file.c
  ${CMAKE_CURRENT_LIST_DIR}/src/engine_info.c
  ${CMAKE_CURRENT_LIST_DIR}/src/graph_assembler.c
  ${CMAKE_CURRENT_LIST_DIR}/src/intern.c
  ${CMAKE_CURRENT_LIST_DIR}/src/layout.c
  ${CMAKE_CURRENT_LIST_DIR}/src/probe_plan.c
  ${CMAKE_CURRENT_LIST_DIR}/src/proc_maps.c
  ${CMAKE_CURRENT_LIST_DIR}/src/trace_emit.c
  ${CMAKE_CURRENT_LIST_DIR}/src/uprobe_attach.c)
target_compile_definitions(pi_core PUBLIC _GNU_SOURCE PI_BUILD_TARGET="${PI_BUILD_TARGET}")
target_include_directories(pi_core PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src ${LIBBPF_INCLUDE_DIRS} ${CAPSTONE_INCLUDE_DIRS})
target_link_libraries(pi_core PUBLIC pi_wire pi_bpf)

add_executable(profinferd ${CMAKE_CURRENT_LIST_DIR}/src/main.c)
target_link_libraries(profinferd PRIVATE pi_core)
if(PROFINFER_STATIC)
  # libbpf needs libelf, which needs zlib and zstd: all as static archives.
  target_link_options(profinferd PRIVATE -static)
  target_link_libraries(profinferd PRIVATE bpf elf z zstd capstone pthread)
else()
  target_link_libraries(profinferd PRIVATE ${LIBBPF_LINK_LIBRARIES} ${LIBELF_LINK_LIBRARIES}
    ${CAPSTONE_LINK_LIBRARIES})
endif()

# Unit tests of the core that need no root and no BPF (ctest).
foreach(name code_scan graph_assembler)
  add_executable(${name}_test ${CMAKE_CURRENT_LIST_DIR}/test/${name}_test.c)
  target_link_libraries(${name}_test PRIVATE pi_core ${LIBBPF_LINK_LIBRARIES} ${LIBELF_LINK_LIBRARIES}
    ${CAPSTONE_LINK_LIBRARIES})
  add_test(NAME ${name} COMMAND ${name}_test)
endforeach()
