#!/usr/bin/env bash
# Installs the Debian packages kiln needs, only those missing; silent when all are present.
# usage: scripts/deps.sh [--bench]   (--bench adds python3-torch for bench/ and tests/golden/)
# May be run or sourced; sourcing leaves the caller's shell options alone.

kiln_deps() (
  set -euo pipefail
  local packages=(
    llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
    catch2 libfmt-dev zlib1g-dev libpng-dev libcli11-dev nlohmann-json3-dev
    dataset-fashion-mnist
    ninja-build ccache cmake g++
    python3 python3-numpy
  )
  local arg
  for arg in "$@"; do
    case "$arg" in
      --bench) packages+=(python3-torch time) ;;
      -h | --help)
        echo "usage: scripts/deps.sh [--bench]"
        return 0
        ;;
      *)
        echo "deps.sh: unknown argument '$arg' (expected --bench)" >&2
        return 2
        ;;
    esac
  done

  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found; kiln expects Debian 12. Install these packages:" >&2
    echo "  ${packages[*]}" >&2
    return 1
  fi

  local missing=() pkg
  for pkg in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  if ! command -v apt-get >/dev/null 2>&1 || [[ "$(id -u)" -ne 0 ]]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
    return 1
  fi

  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
)

if (return 0 2>/dev/null); then
  kiln_deps "$@"
else
  kiln_deps "$@"
  exit $?
fi
