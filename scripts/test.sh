#!/usr/bin/env bash
# Runs the whole test suite against an existing build (scripts/setup.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."

ctest --test-dir build --output-on-failure -j"$(nproc)"
