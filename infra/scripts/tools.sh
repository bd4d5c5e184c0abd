#!/usr/bin/env bash
# Makes sure the Python tools (moto, cfn-lint, SAM CLI) are installed in .venv at the pinned
# versions. Idempotent: a second run with an unchanged requirements file does nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
requirements="$root/infra/requirements-tools.txt"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
echo "tools: installing $(grep -cv '^#' "$requirements") Python packages into $venv" >&2
python3 -m venv "$venv"
# uv installs the pinned wheels in parallel and compiles no bytecode up front (Python compiles what
# it imports, when it does): about 11 s and 11 CPU-seconds here, against pip's 56 s and 53
# (BENCHMARKS.md, "The Python tools through uv"). No cache: a fresh machine has none to reuse, and
# CI runs without HOME.
"$venv/bin/pip" install --quiet --disable-pip-version-check "uv==0.13.9"
"$venv/bin/uv" pip install --quiet --no-cache --python "$venv/bin/python" -r "$requirements"
echo "$wanted" > "$stamp"
