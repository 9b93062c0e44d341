#!/usr/bin/env bash
# The llama.cpp command-line tools (llama-cli, llama-completion, llama-simple,
# llama-bench, llama-eval-callback), built offline from the llama.cpp source
# bundle that node-llama-cpp ships, with the patches node-llama-cpp applies to
# its own builds. CPU backend only, static ggml, OpenMP threads, Release with
# -g: the symbols stay, since a profiler resolves them from .symtab.
#
# Cached in $PROFINFER_CACHE/llama.cpp/<key>/, where <key> covers the bundle
# commit, the patches, the build options, the compiler and (GGML_NATIVE) the
# CPU's feature flags: a fresh clone of this repository on the same machine
# reuses the build, a changed option or another CPU builds anew.
#
#   <key>/src/              the patched llama.cpp source (DWARF points here)
#   <key>/bin/              the tools, unstripped, plus for the profiler tests:
#       llama-simple.stripped   strip --strip-all
#       llama-simple.debug      objcopy --only-keep-debug
#       llama-simple.debuglink  the stripped binary with .gnu_debuglink -> llama-simple.debug
#   <key>/build-info.txt    what went into the key, how long the build took
#   <key>/build.log         the full configure and build output
#   <key>/.complete         written last
#   $PROFINFER_CACHE/llama.cpp/current -> <key>
#
# Environment: PROFINFER_LLAMA_JOBS (default: the number of CPUs),
# PROFINFER_LLAMA_NATIVE=0 to build for the generic x86-64-v3 level instead.
source "$(dirname "$0")/common.sh"

BUNDLE="$NLC_DIR/node_modules/node-llama-cpp/llama/gitRelease.bundle"
PATCH_DIR="$NLC_DIR/node_modules/node-llama-cpp/llama/patches"
ROOT="$PROFINFER_CACHE/llama.cpp"
# Bump when the recipe below changes in a way the options do not show.
RECIPE=1
TARGETS=(llama-cli llama-completion llama-simple llama-bench llama-eval-callback)

[ -f "$BUNDLE" ] || die "no llama.cpp source bundle at $BUNDLE: run scripts/setup/node_llama_cpp.sh first"
mkdir -p "$ROOT"

# The compilers: GCC, whose libgomp ships with it (clang would need libomp-dev).
unset CFLAGS CXXFLAGS CPPFLAGS LDFLAGS
export CC=gcc CXX=g++
if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null || ! command -v make >/dev/null \
   || ! command -v cmake >/dev/null || ! command -v git >/dev/null; then
  require_root
  step "installing the llama.cpp build tools (gcc, g++, make, cmake, git)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q gcc g++ make cmake git >/dev/null
fi

# ---- the key ---------------------------------------------------------------
COMMIT=$(git bundle list-heads "$BUNDLE" | awk '$2 == "HEAD" { print $1; exit }')
[ -n "$COMMIT" ] || COMMIT=$(git bundle list-heads "$BUNDLE" | awk 'NR == 1 { print $1 }')
[ -n "$COMMIT" ] || die "cannot read the commit of $BUNDLE"

NATIVE=${PROFINFER_LLAMA_NATIVE:-1}
if [ "$NATIVE" = 1 ]; then
  # -march=native: the binary fits this CPU only, so its features are in the key.
  CPU_FLAGS=$(grep -m1 -E '^(flags|Features)[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ')
  ARCH_OPTS=(-DGGML_NATIVE=ON)
else
  CPU_FLAGS="generic"
  ARCH_OPTS=(-DGGML_NATIVE=OFF)
fi

CMAKE_OPTS=(
  -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_C_FLAGS=-g"
  "-DCMAKE_CXX_FLAGS=-g"
  -DBUILD_SHARED_LIBS=OFF
  "${ARCH_OPTS[@]}"
  -DGGML_OPENMP=ON
  -DGGML_OPENMP_FETCH=OFF
  -DGGML_BACKEND_DL=OFF
  -DGGML_CPU=ON
  -DGGML_LTO=OFF
  -DGGML_CCACHE=OFF
  -DGGML_RPC=OFF
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=ON
  -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_OPENSSL=OFF
  -DLLAMA_LLGUIDANCE=OFF
  -DLLAMA_BUILD_BORINGSSL=OFF
  -DLLAMA_BUILD_LIBRESSL=OFF
  -DFETCHCONTENT_FULLY_DISCONNECTED=ON
)
# llama-cli needs LLAMA_BUILD_SERVER: in this llama.cpp it is the chat client
# built on the server's code; llama-completion is the classic one-shot CLI.
# The UI options keep the server's web UI from being fetched from Hugging Face.

PATCH_SUMS=""
if [ -d "$PATCH_DIR" ]; then
  PATCH_SUMS=$(cd "$PATCH_DIR" && find . -maxdepth 1 \( -name '*.diff' -o -name '*.patch' \) | LC_ALL=C sort | xargs -r sha256sum)
fi
KEY_TEXT=$(cat <<EOF
recipe: $RECIPE
commit: $COMMIT
patches: $(printf '%s' "$PATCH_SUMS" | sha256sum | cut -c1-16)
targets: ${TARGETS[*]}
options: ${CMAKE_OPTS[*]}
cc: $(gcc --version | head -1)
cxx: $(g++ --version | head -1)
cmake: $(cmake --version | head -1)
machine: $(uname -m)
cpu-flags: $(printf '%s' "$CPU_FLAGS" | sha256sum | cut -c1-16)
EOF
)
KEY="${COMMIT:0:12}-$(printf '%s' "$KEY_TEXT" | sha256sum | cut -c1-12)"
DIR="$ROOT/$KEY"

link_current() {
  ln -sfn "$KEY" "$ROOT/.current.tmp.$$"
  mv -T "$ROOT/.current.tmp.$$" "$ROOT/current"
}

if [ -f "$DIR/.complete" ]; then
  [ "$(readlink "$ROOT/current" 2>/dev/null)" = "$KEY" ] || link_current
  exit 0
fi

# One build at a time per cache (a second setup run waits, then finds it done).
exec 9>"$ROOT/.lock"
if ! flock -n 9; then
  note "another set-up is building llama.cpp; waiting for it"
  flock 9
fi
if [ -f "$DIR/.complete" ]; then link_current; exit 0; fi

# OpenMP: GCC's omp.h and libgomp.so live in libgcc-<ver>-dev; check it links.
omp_probe=$(mktemp -d)
printf '#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n{\n#pragma omp atomic\nn++;}\nreturn n>0?0:1;}\n' > "$omp_probe/t.c"
if ! gcc -fopenmp "$omp_probe/t.c" -o "$omp_probe/t" 2>/dev/null; then
  require_root
  step "installing GCC's OpenMP runtime (libgomp)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "libgcc-$(gcc -dumpversion | cut -d. -f1)-dev" libgomp1 >/dev/null
  gcc -fopenmp "$omp_probe/t.c" -o "$omp_probe/t" || die "gcc -fopenmp does not link: OpenMP (libgomp) is missing"
fi
rm -rf "$omp_probe"

step "building llama.cpp ${COMMIT:0:12} tools into $DIR"
note "key text:"; printf '%s\n' "$KEY_TEXT" | sed 's/^/      /' >&2
mkdir -p "$DIR"
printf '%s\n' "$KEY_TEXT" > "$DIR/KEY"
LOG="$DIR/build.log"
: > "$LOG"
started=$(date +%s)

# ---- the source: clone the bundle, apply node-llama-cpp's patches ----------
SRC="$DIR/src"
if [ ! -f "$SRC/.profinfer-ready" ] || [ "$(git -C "$SRC" rev-parse HEAD 2>/dev/null)" != "$COMMIT" ]; then
  note "cloning the source bundle"
  rm -rf "$SRC" "$DIR/build"
  git clone -q "$BUNDLE" "$SRC" >>"$LOG" 2>&1 || die "git clone of $BUNDLE failed (see $LOG)"
  git -C "$SRC" -c advice.detachedHead=false checkout -q "$COMMIT" >>"$LOG" 2>&1 || die "cannot check out $COMMIT"
  if [ -d "$PATCH_DIR" ]; then
    for p in $(find "$PATCH_DIR" -maxdepth 1 \( -name '*.diff' -o -name '*.patch' \) | LC_ALL=C sort); do
      if git -C "$SRC" apply --check --ignore-whitespace "$p" 2>/dev/null; then
        git -C "$SRC" apply --ignore-whitespace "$p" || die "applying $(basename "$p") failed"
        note "applied node-llama-cpp patch $(basename "$p")"
      elif git -C "$SRC" apply --check --reverse --ignore-whitespace "$p" 2>/dev/null; then
        note "patch $(basename "$p") is already in the source"
      else
        note "warning: node-llama-cpp patch $(basename "$p") does not apply; building without it"
      fi
    done
  fi
  touch "$SRC/.profinfer-ready"
fi

# Build only the targets this version has.
WANT=()
for t in "${TARGETS[@]}"; do
  if grep -rqs --include=CMakeLists.txt -E "set\(TARGET $t\)|add_executable\($t " "$SRC/tools" "$SRC/examples"; then
    WANT+=("$t")
  else
    note "this llama.cpp has no $t target; skipping it"
  fi
done
for t in llama-simple llama-bench; do
  [[ " ${WANT[*]} " == *" $t "* ]] || die "this llama.cpp has no $t target"
done

# ---- configure and build ---------------------------------------------------
BUILD="$DIR/build"
JOBS=${PROFINFER_LLAMA_JOBS:-$(nproc)}
note "configuring (CMake)"
cmake -S "$SRC" -B "$BUILD" -G "Unix Makefiles" "${CMAKE_OPTS[@]}" >>"$LOG" 2>&1 \
  || { tail -n 30 "$LOG" >&2; die "CMake configure failed (full log: $LOG)"; }
# The CPU features the build settled on, as a record.
grep -E "^-- (Adding CPU backend variant|x86 detected|CMAKE_BUILD_TYPE|Including CPU backend|OpenMP|Found OpenMP)" "$LOG" | sed 's/^/    /' >&2 || true

# One line per new percentage (make restarts the count for each target), and every link.
show_progress() {
  local line last="" pct re='^\[ *([0-9]+)%\] (Building [A-Z]+ object|Linking [A-Za-z ]+) (.*)$'
  while IFS= read -r line; do
    [[ $line =~ $re ]] || continue
    pct=${BASH_REMATCH[1]}
    [ "$pct" != "$last" ] || [[ ${BASH_REMATCH[2]} == Linking* ]] || continue
    last=$pct
    printf '    %4ds [%3s%%] %s %s\n' $((SECONDS - t0)) "$pct" "${BASH_REMATCH[2]% object}" "${BASH_REMATCH[3]##*/}" >&2
  done
}
t0=$SECONDS
note "compiling ${WANT[*]} with $JOBS jobs (about 10 minutes on 2 cores: llama-cli brings in the server and mtmd code)"
set +e
cmake --build "$BUILD" -j "$JOBS" --target "${WANT[@]}" 2>&1 | tee -a "$LOG" | show_progress
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
  grep -E -B2 -A8 "error|Error" "$LOG" | tail -n 40 >&2 || tail -n 40 "$LOG" >&2
  die "the llama.cpp build failed (full log: $LOG)"
fi

# ---- install into bin/ -----------------------------------------------------
BIN="$DIR/bin"
rm -rf "$BIN" && mkdir -p "$BIN"
for t in "${WANT[@]}"; do
  [ -x "$BUILD/bin/$t" ] || die "the build produced no $BUILD/bin/$t"
  cp -p "$BUILD/bin/$t" "$BIN/$t"
done
# Variants of llama-simple for the profiler's symbol-resolution tests.
strip --strip-all -o "$BIN/llama-simple.stripped" "$BIN/llama-simple"
objcopy --only-keep-debug "$BIN/llama-simple" "$BIN/llama-simple.debug"
chmod -x "$BIN/llama-simple.debug"
(cd "$BIN" && objcopy --add-gnu-debuglink=llama-simple.debug llama-simple.stripped llama-simple.debuglink)
readelf -S "$BIN/llama-simple" | grep -q '\.symtab' || die "llama-simple has no .symtab"
readelf -S "$BIN/llama-simple.debuglink" | grep -q '\.gnu_debuglink' || die "llama-simple.debuglink has no .gnu_debuglink"
"$BIN/llama-simple" -h >/dev/null 2>&1 || [ $? -lt 126 ] || die "the built llama-simple does not run"

cp "$BUILD/CMakeCache.txt" "$DIR/CMakeCache.txt"
elapsed=$(( $(date +%s) - started ))
{
  printf '%s\n' "$KEY_TEXT"
  echo "key: $KEY"
  echo "cpu-flags-text: $CPU_FLAGS"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $JOBS jobs, ${elapsed}s"
  echo "binaries: $(cd "$BIN" && ls | tr '\n' ' ')"
} > "$DIR/build-info.txt"
# The object files (~1-2 GB with -g) are not needed any more.
rm -rf "$BUILD"
touch "$DIR/.complete"
link_current
note "llama.cpp tools ready in $BIN (${elapsed}s); $ROOT/current -> $KEY"
