#!/usr/bin/env bash
# Source this file: starts moto (the DynamoDB / S3 / Secrets Manager stand-in) on a free loopback
# port, exports BRIDGE_TEST_AWS_ENDPOINT, and stops moto when the sourcing shell exits.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
moto_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
moto_log="${TMPDIR:-/tmp}/nexus-bridge-moto-$moto_port.log"
"$root/.venv/bin/python" "$root/infra/scripts/moto_serial.py" 127.0.0.1 "$moto_port" >"$moto_log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto did not start; its log:" >&2
    cat "$moto_log" >&2
    exit 1
  fi
  sleep 0.2
done
export BRIDGE_TEST_AWS_ENDPOINT="http://127.0.0.1:$moto_port"
echo "moto: serving on $BRIDGE_TEST_AWS_ENDPOINT (pid $moto_pid, log $moto_log)" >&2
