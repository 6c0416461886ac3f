#!/usr/bin/env bash
# test.sh — the whole test suite: configure + build (Release) in ./build and run every ctest test (unit,
# golden, oracle, CLI, fuzz-corpus replays). Needs the packages setup.sh installs. Extra arguments go to
# ctest (e.g. ./test.sh -L quick, ./test.sh -R cli/). Environment: SPAR_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")"
BUILD=${SPAR_BUILD_DIR:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release ${SPAR_CMAKE_ARGS:-}
cmake --build "$BUILD" -j"$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "$@"
