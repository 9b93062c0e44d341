# The collector core as a node addon (node-addon-api). It links the static
# libraries the collector's CMake build made (PROFINFER_BUILD, default
# ../../build), so build the collector first: scripts/setup/35_addon.sh.
# libbpf, libelf and capstone come from the system's shared libraries: their
# Debian static archives are not position-independent (initial-exec TLS,
# PC-relative references to libc), which a shared object cannot hold.
{
  "variables": {
    "pi_build%": "<!(node -p \"process.env.PROFINFER_BUILD || require('path').resolve('../../build')\")"
  },
  "targets": [
    {
      "target_name": "profinfer",
      "sources": ["src/addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../../collector-c/src",
        "../../bpf"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "libraries": [
        "<(pi_build)/collector-c/libpi_core.a",
        "<(pi_build)/collector-c/libpi_wire.a",
        "-l:libprotobuf-nanopb.a",
        "-Wl,--exclude-libs,ALL",
        "-lbpf",
        "-lelf",
        "-lcapstone"
      ]
    }
  ]
}
