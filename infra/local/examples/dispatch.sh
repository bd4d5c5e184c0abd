#!/usr/bin/env bash
# Plans an order in the Qargo simulator and completes its dispatch task: Qargo sends the CREATE
# webhook to the local bridge, which books it on the Nexus simulator. Prints the bridge's answer.
# Usage: infra/local/examples/dispatch.sh [ORDER_JSON] [QARGO_URL]   (bridge-local must be running)
set -euo pipefail
order_file="${1:-$(dirname "$0")/order.json}"
qargo="${2:-http://127.0.0.1:8082}"
created=$(curl -sS --fail-with-body -X POST "$qargo/_sim/orders" -H 'content-type: application/json' -d @"$order_file")
trip_id=$(printf '%s' "$created" | sed -n 's/.*"trip_id":"\([^"]*\)".*/\1/p')
if [ -z "$trip_id" ]; then
  echo "the Qargo simulator did not plan the order on a trip: $created" >&2
  exit 1
fi
echo "order planned on trip $trip_id; completing the dispatch task (Qargo sends CREATE to the bridge)"
record=$(curl -sS --fail-with-body -X POST "$qargo/_sim/trips/$trip_id/dispatch" -H 'content-type: application/json' \
  -d '{"operation":"CREATE"}')
if command -v python3 >/dev/null; then
  printf '%s' "$record" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("HTTP", r.get("status")); print(json.dumps(r.get("response"), indent=2))'
else
  printf '%s\n' "$record"
fi
