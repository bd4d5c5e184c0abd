#!/usr/bin/env bash
# Dispatch cold start and warm invocations of function binaries, one after the other in one run on
# the same machine and moto: by default a binary built before a change (a baseline binary,
# /tmp/baseline-target/release/bridge-lambda) and the current one; or the binaries given, e.g. the
# same source built at three opt-levels:
#   CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo build --release -p bridge-lambda --target-dir /tmp/opt-3
#   infra/scripts/bench_coldstart.sh /tmp/opt-3/release/bridge-lambda /tmp/opt-s/release/bridge-lambda target/release/bridge-lambda
# Each runs as the dispatch function (_HANDLER=dispatch).
# NEXUS_LATENCY_MS=200 adds that much to every Nexus request of the function's run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source infra/scripts/moto.sh
if [ "$#" -eq 0 ]; then
  set -- /tmp/baseline-target/release/bridge-lambda target/release/bridge-lambda
fi
for binary in "$@"; do
  echo "=== $binary"
  target/debug/bridge-bench dispatch --dispatches 20 --invocations 40 --function-binary "$binary" \
    --nexus-latency-ms "${NEXUS_LATENCY_MS:-0}" 2>&1 | sed -n '/function binary/,$p'
done
