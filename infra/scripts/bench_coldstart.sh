#!/usr/bin/env bash
# Dispatch cold start and warm invocations: a function binary built before a change
# (a baseline binary, default /tmp/baseline-target/release/dispatch) and the current one, one after
# the other in one run on the same machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source infra/scripts/moto.sh
baseline="${1:-/tmp/baseline-target/release/dispatch}"
for binary in "$baseline" target/release/dispatch; do
  echo "=== $binary"
  target/debug/bridge-bench dispatch --dispatches 20 --invocations 40 --function-binary "$binary" 2>&1 | sed -n '/function binary/,$p'
done
