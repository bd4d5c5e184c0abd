#!/usr/bin/env bash
# The test command: installs the Python tools if needed, starts moto on loopback, runs every test
# of the workspace against it, and stops moto. Extra arguments go to `cargo test`. At the end it
# prints how many messages the bridge sent to the Qargo simulator in the tests, each checked against
# Qargo's spec in strict mode (keys the spec does not define refused).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
infra/scripts/toolchain.sh >/dev/null
infra/scripts/tools.sh
# shellcheck source=moto.sh
source infra/scripts/moto.sh
spec_log="$(mktemp)"
export QARGO_SIM_SPEC_LOG="$spec_log"
spec_bodies="$(mktemp)"
export SPEC_BODIES_SUMMARY="$spec_bodies"
hostile_corpus="$(mktemp)"
export HOSTILE_CORPUS_SUMMARY="$hostile_corpus"
status=0
cargo test --workspace "$@" || status=$?
# The bridge's messages: the end-to-end tests' requests to Qargo's routes (not the simulator's own
# scenario routes, nor the simulator's tests, which send invalid bodies on purpose).
awk -F'\t' '$1 == "end_to_end" && $2 !~ /\/_sim\// {
    total++; by[$3]++; if ($4 == "strict") strict++
  } END {
    printf "qargo spec checks: %d messages from the bridge checked against Qargo'"'"'s spec (%d strict): %d ok, %d invalid, %d with keys the spec does not define\n",
      total, strict, by["ok"], by["invalid"], by["unknown-keys"]
    if (by["invalid"] + by["unknown-keys"] > 0) exit 1
  }' "$spec_log" || { echo "the bridge sent Qargo messages its spec refuses (see above)" >&2; status=1; }
rm -f "$spec_log"
# The property test's counts: generated spec-legal dispatch and visibility bodies and what the bridge did.
cat "$spec_bodies"
rm -f "$spec_bodies"
# The hostile corpus's counts: hostile requests to the bridge's API, panics, oversized answers,
# unexpected changes on the simulators and peak memory.
cat "$hostile_corpus"
rm -f "$hostile_corpus"
exit "$status"
