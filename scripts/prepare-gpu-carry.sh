#!/usr/bin/env bash
# Prepares what travels to a GPU machine that cannot install packages: the header-only
# dependencies in .deps/include and the PyTorch peer in .peer/ (both ignored by git), and with
# --prebuilt the GPU check's executables built here for sm_90 (build-gpu-carry: no OpenCV, no
# libtiff) with the shared libraries the GPU node lacks beside them. Prints what to carry and the
# command to run there (docs/gpu-check.md).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly CARRY_BUILD=build-gpu-carry
readonly LIMIT_MIB=64  # what one device call carries: the working tree and the carried paths
# Libraries the GPU node (Ubuntu 24.04) has, with the same sonames: everything else is carried.
readonly NODE_HAS='^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libstdc\+\+\.so|libgcc_s\.so|libpthread\.so|libdl\.so|librt\.so|libpng16\.so|libz\.so)'

usage() { echo "usage: $0 [--prebuilt]" >&2; exit 1; }

copy_headers() {
  local h
  mkdir -p .deps/include
  for h in nlohmann CLI; do
    if [ ! -d "/usr/include/$h" ]; then
      echo "prepare-gpu-carry: /usr/include/$h missing: run scripts/setup.sh first" >&2
      exit 1
    fi
    cp -r "/usr/include/$h" .deps/include/
  done
}

copy_peer() {
  mkdir -p .peer
  if [ -f ../shared/bench/torch_peer.py ]; then
    cp ../shared/bench/torch_peer.py .peer/
  else
    echo "prepare-gpu-carry: no ../shared/bench/torch_peer.py: the check will skip the peer" >&2
  fi
}

build_for_sm90() {
  local generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  if [ ! -f "$CARRY_BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$CARRY_BUILD" "${generator[@]}" \
      -DCMAKE_BUILD_TYPE=Release -DMASKEVAL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DMASKEVAL_OPENCV=OFF -DMASKEVAL_TIFF=OFF -DMASKEVAL_TESTS=ON -DMASKEVAL_BENCH=ON >/dev/null
  fi
  cmake --build "$CARRY_BUILD" -j "$(nproc)" --target test_cuda maskeval_bench_cuda maskeval
}

# The executables' shared libraries that the node lacks go to runtime/lib (gpu-check.sh puts it
# on LD_LIBRARY_PATH); runtime/source-dir.txt names the source folder compiled into test_cuda.
bundle_runtime() {
  local runtime="$CARRY_BUILD/runtime" name path
  rm -rf "$runtime"
  mkdir -p "$runtime/lib"
  echo "$PWD" >"$runtime/source-dir.txt"
  ldd "${executables[@]}" | awk '/=>/ { print $1, $3 }' | sort -u |
    while read -r name path; do
      if [ "$path" = "not" ]; then
        echo "prepare-gpu-carry: $name not found here" >&2
      elif ! [[ $name =~ $NODE_HAS ]]; then
        cp -L "$path" "$runtime/lib/$name"
        echo "prepare-gpu-carry: carried beside the executables: $name"
      fi
    done
  if ldd "${executables[@]}" | grep -qE 'libtiff|libopencv'; then
    echo "prepare-gpu-carry: the executables need libtiff or OpenCV: configure without them" >&2
    exit 1
  fi
}

# The size of what travels: the working tree git would send and the carried paths.
check_size() {
  local tree carried total
  tree=$( { git ls-files -z; git ls-files -z -o --exclude-standard; } | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  carried=$(du -cbL "$@" 2>/dev/null | tail -1 | cut -f1)
  total=$(( (tree + carried) / 1048576 ))
  echo "prepare-gpu-carry: working tree $((tree / 1048576)) MiB + carried $((carried / 1048576)) MiB = $total MiB (limit $LIMIT_MIB)"
  if [ "$total" -ge "$LIMIT_MIB" ]; then
    echo "prepare-gpu-carry: too large to carry" >&2
    exit 1
  fi
}

print_plan() {  # COMMAND PATH...: the device call's carry list and command
  local command=$1 list
  shift
  list=$(printf '"%s", ' "$@")
  echo "prepare-gpu-carry: carry [${list%, }]"
  echo "prepare-gpu-carry: and run there: $command"
}

prebuilt=0
case "${1:-}" in
  --prebuilt) prebuilt=1 ;;
  "") ;;
  *) usage ;;
esac
copy_headers
copy_peer
if [ "$prebuilt" = 0 ]; then
  check_size .deps .peer
  print_plan "OUT=\$OUT bash scripts/gpu-check.sh" .deps .peer
  exit 0
fi
build_for_sm90
executables=("$CARRY_BUILD/tests/test_cuda" "$CARRY_BUILD/bench/maskeval_bench_cuda" "$CARRY_BUILD/maskeval")
bundle_runtime
check_size .peer "${executables[@]}" "$CARRY_BUILD/runtime"
print_plan "PREBUILT=$CARRY_BUILD OUT=\$OUT bash scripts/gpu-check.sh" \
  .peer "${executables[@]}" "$CARRY_BUILD/runtime"
