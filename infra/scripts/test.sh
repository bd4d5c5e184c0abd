#!/usr/bin/env bash
# The test command: installs the Python tools if needed, starts moto on loopback, runs every test
# of the workspace against it, and stops moto. Extra arguments go to `cargo test`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
infra/scripts/tools.sh
# shellcheck source=moto.sh
source infra/scripts/moto.sh
cargo test --workspace "$@"
