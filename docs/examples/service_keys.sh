#!/usr/bin/env bash
# The first admin key, the service, an analyst posting guard events, a viewer reading them.
set -euo pipefail

admin=$(redwatch keys create --name ops --role admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
analyst=$(redwatch keys create --name edge-guard --role analyst --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
redwatch keys list

redwatch serve --port 0 --no-worker > serve.out 2> serve.log &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
until grep -q "listening on" serve.out; do sleep 0.2; done
url=$(grep -o 'http://[^ ]*' serve.out | head -n 1)
until curl -sf "$url/healthz" > /dev/null; do sleep 0.2; done

curl -s -X POST "$url/api/v1/events" -H "X-API-Key: $analyst" -H "Content-Type: application/json" \
  -d '{"source": "edge", "events": [{"id": "e-1", "timestamp": 1740830400.0, "stage": "auth",
       "kind": "intrusion", "action": "block", "client": "ip:203.0.113.66",
       "detail": "5 failed authentications", "data": {"failures": 5}}]}'
echo
curl -s "$url/api/v1/events?kind=intrusion" -H "X-API-Key: $admin"
echo
curl -s -o /dev/null -w "no key: %{http_code}\n" "$url/api/v1/events"

kill -TERM $server
wait $server
trap - EXIT
cat serve.out
