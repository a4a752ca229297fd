#!/usr/bin/env bash
# Installs the Debian 12 packages taskforge's tests and benchmarks need, if any is missing (needs root or sudo).
set -euo pipefail
packages=(cmake ninja-build g++ clang-14 libclang-rt-14-dev catch2 libbenchmark-dev libtbb-dev relacy-dev
          pkg-config gnuplot-nox valgrind python3 git doxygen)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "taskforge: installing ${missing[*]}"
  sudo_prefix=()
  if [[ $(id -u) -ne 0 ]]; then sudo_prefix=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_prefix[@]}" apt-get update -qq
  "${sudo_prefix[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
