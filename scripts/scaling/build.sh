#!/usr/bin/env bash
# scripts/scaling/build.sh <source-tree> <dest-subdir>
#
# Builds taskforge's Release benchmarks (the `release` preset's settings: g++, CMAKE_BUILD_TYPE=Release, i.e. -O3
# -DNDEBUG, tests/examples off) of <source-tree> into /tmp/tf-kit-build/<dest-subdir>, then copies into
# .device-kit/<dest-subdir>/:
#   taskforge_bench        the project's binary, as built
#   taskforge_bench_nofig  the same object files, linked with a copy of bench/main.cpp whose W4-W6 figures pass
#                          (measure_figures(), ~11 s of sleeps/spins before every run, whatever the filter) is
#                          replaced by an empty list; every Google Benchmark suite is unchanged. Made only when
#                          main.cpp still calls bench::measure_figures(); run.sh falls back to taskforge_bench.
#   taskforge_fan_out      W7
#   rayon_join_bench       bench/rayon (cargo --offline, Debian's vendored crates), unless KIT_RAYON=0
# and every shared library they load (ldd, plus oneTBB's dlopen'ed tbbmalloc/tbbbind), with the dynamic loader,
# into .device-kit/lib/. Binaries run as:
#   .device-kit/lib/ld-linux-x86-64.so.2 --library-path .device-kit/lib .device-kit/<dest>/taskforge_bench ...
#
# Examples (from /work/main):  bash scripts/scaling/build.sh /tmp/tf-base base      # a worktree of the baseline
#                              bash scripts/scaling/build.sh /work/main new          # the edited tree
# Env: KIT_JOBS (default 2), KIT_NICE (default 10), KIT_RAYON (default 1), KIT_BUILD_ROOT (default /tmp/tf-kit-build).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <source-tree> <dest-subdir>" >&2
    exit 2
fi
SRC=$(realpath "$1")
DEST_NAME=$2
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KIT=$(mkdir -p "${KIT_DIR:-.device-kit}" && cd "${KIT_DIR:-.device-kit}" && pwd)  # binaries and libraries (ignored by git)
BUILD_ROOT=${KIT_BUILD_ROOT:-/tmp/tf-kit-build}
B=$BUILD_ROOT/$DEST_NAME
JOBS=${KIT_JOBS:-2}
NICE="nice -n ${KIT_NICE:-10}"
DEST=$KIT/$DEST_NAME
LIB=$KIT/lib

[[ $DEST_NAME =~ ^[a-z][a-z0-9_-]*$ && $DEST_NAME != lib && $DEST_NAME != out ]] ||
    { echo "dest-subdir must be a plain name such as base or new (not lib/out): $DEST_NAME" >&2; exit 2; }
[[ -f $SRC/CMakeLists.txt && -f $SRC/bench/CMakeLists.txt ]] || { echo "not a taskforge tree: $SRC" >&2; exit 2; }
for pkg in libbenchmark-dev libtbb-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || { echo "missing $pkg: apt-get install -y $pkg" >&2; exit 1; }
done

echo "== configure $SRC -> $B"
mkdir -p "$B"
cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
    -DTASKFORGE_BUILD_TESTS=OFF -DTASKFORGE_BUILD_EXAMPLES=OFF -DTASKFORGE_BUILD_BENCHMARKS=ON \
    -DTASKFORGE_FETCH_DEPENDENCIES=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$B/kit-configure.log"
grep -E 'oneTBB|OpenMP|not found' "$B/kit-configure.log" || true
grep -q 'oneTBB .* included as a peer' "$B/kit-configure.log" || echo "WARNING: oneTBB peer not built in" >&2
grep -q 'OpenMP included as a peer' "$B/kit-configure.log" || echo "WARNING: OpenMP peer not built in" >&2

echo "== build (ninja -j$JOBS)"
$NICE cmake --build "$B" -j "$JOBS" --target taskforge_bench taskforge_fan_out

# taskforge_bench_nofig: main.cpp without the figures pass, compiled with main.cpp's exact command and linked with
# taskforge_bench's exact link line.
NOFIG=0
if grep -q 'bench::measure_figures()' "$SRC/bench/main.cpp"; then
    echo "== build taskforge_bench_nofig"
    mkdir -p "$B/kit"
    sed 's/bench::measure_figures()/std::vector<bench::figure>{}/' "$SRC/bench/main.cpp" >"$B/kit/main_nofig.cpp"
    python3 - "$B" "$SRC" <<'EOF'
import json, shlex, subprocess, sys
b, src = sys.argv[1], sys.argv[2]
entries = [e for e in json.load(open(f"{b}/compile_commands.json"))
           if e["file"].endswith("/bench/main.cpp") and "taskforge_bench.dir" in e.get("output", e["command"])]
assert len(entries) == 1, entries
args = shlex.split(entries[0]["command"])
obj = args[args.index("-o") + 1]
args[args.index("-o") + 1] = f"{b}/kit/main_nofig.cpp.o"
args[args.index("-c") + 1] = f"{b}/kit/main_nofig.cpp"
args.insert(1, f"-I{src}/bench")  # main.cpp's quoted includes ("figures.hpp", "settings.hpp")
subprocess.run(["nice", "-n", "10"] + args, cwd=entries[0]["directory"], check=True)
link = subprocess.run(["ninja", "-C", b, "-t", "commands", "bench/taskforge_bench"], check=True,
                      capture_output=True, text=True).stdout.strip().splitlines()[-1]
assert obj in link and "-o bench/taskforge_bench " in link, link
link = link.replace(obj, f"{b}/kit/main_nofig.cpp.o").replace("-o bench/taskforge_bench ", "-o bench/taskforge_bench_nofig ")
subprocess.run(["bash", "-c", link], cwd=b, check=True)
EOF
    NOFIG=1
else
    echo "NOTE: bench/main.cpp no longer calls bench::measure_figures(); no taskforge_bench_nofig (run.sh uses taskforge_bench)"
fi

RAYON_BIN=""
if [[ ${KIT_RAYON:-1} == 1 && -f $SRC/bench/rayon/Cargo.toml ]]; then
    echo "== build bench/rayon (cargo --offline)"
    if command -v cargo >/dev/null &&
        (cd "$SRC/bench/rayon" && $NICE env CARGO_TARGET_DIR="$BUILD_ROOT/rayon-target" \
            cargo build --release --offline --quiet -j "$JOBS"); then
        RAYON_BIN=$BUILD_ROOT/rayon-target/release/rayon_join_bench
    elif [[ -x $SRC/bench/rayon/target/release/rayon_join_bench ]]; then
        echo "cargo build failed: using the prebuilt $SRC/bench/rayon/target/release/rayon_join_bench"
        RAYON_BIN=$SRC/bench/rayon/target/release/rayon_join_bench
    else
        echo "WARNING: no rayon_join_bench (cargo build failed, none prebuilt)" >&2
    fi
fi

echo "== copy into $DEST and $LIB"
rm -rf "$DEST"
mkdir -p "$DEST" "$LIB"
bins=("$B/bench/taskforge_bench" "$B/bench/taskforge_fan_out")
[[ $NOFIG == 1 ]] && bins+=("$B/bench/taskforge_bench_nofig")
[[ -n $RAYON_BIN ]] && bins+=("$RAYON_BIN")
for bin in "${bins[@]}"; do
    install -m 755 "$bin" "$DEST/"
    strip "$DEST/$(basename "$bin")"
done

# Libraries: every ldd dependency of the binaries and of oneTBB's optional dlopen'ed helpers, under its soname.
copy_deps() {
    local file=$1 name path
    while read -r name _ path _; do
        [[ $name == linux-vdso* || $name == /* ]] && continue
        [[ -n $path && -f $path ]] || { echo "unresolved dependency $name of $file" >&2; exit 1; }
        if [[ ! -f $LIB/$name ]]; then
            cp -L "$path" "$LIB/$name"
            chmod 755 "$LIB/$name"
            strip --strip-unneeded "$LIB/$name" 2>/dev/null || true
        fi
    done < <(ldd "$file" | grep '=>')
}
for bin in "${bins[@]}"; do copy_deps "$bin"; done
for extra in libtbbmalloc.so.2 libtbbbind_2_5.so.3; do
    path=/lib/x86_64-linux-gnu/$extra
    if [[ -f $path && ! -f $LIB/$extra ]]; then
        cp -L "$path" "$LIB/$extra"
        chmod 755 "$LIB/$extra"
        copy_deps "$path"
    fi
done
[[ -f $LIB/ld-linux-x86-64.so.2 ]] || { cp -L /lib64/ld-linux-x86-64.so.2 "$LIB/"; chmod 755 "$LIB/ld-linux-x86-64.so.2"; }

# Provenance, for the report.
{
    echo "source: $SRC"
    git -C "$SRC" rev-parse HEAD 2>/dev/null | sed 's/^/commit: /' || true
    git -C "$SRC" status --short --untracked-files=no 2>/dev/null | sed 's/^/modified: /' || true
    echo "built: $(date -u +%FT%TZ) on $(hostname), $(g++ --version | head -1), glibc $(ldd --version | head -1 | awk '{print $NF}')"
    echo "benchmark: $(dpkg -s libbenchmark-dev | awk '/^Version/{print $2}'), oneTBB: $(dpkg -s libtbb-dev | awk '/^Version/{print $2}')"
    (cd "$DEST" && sha256sum -- *)
} >"$DEST/BUILD-INFO.txt"

echo "== smoke test"
smoke=$DEST/taskforge_bench
[[ -x $DEST/taskforge_bench_nofig ]] && smoke=$DEST/taskforge_bench_nofig
"$LIB/ld-linux-x86-64.so.2" --library-path "$LIB" "$smoke" --benchmark_list_tests \
    --benchmark_filter='^W2_join_fib30/taskforge/' | head -3
du -sh "$KIT"
echo "done: $DEST"
