#!/usr/bin/env bash
# Push a spool folder into the store, then read what the guard recorded.
set -euo pipefail
out="$1"
mkdir -p "$out/spool"

# Three lines as a recorder spools them while the store is down; the third was cut off
# by a crash in the middle of a write.
cat > "$out/spool/events-20250301-edge-4242-writer-00000.jsonl" <<'LINES'
{"id":"7d0c4c1e9b2a4f0e8a51a3c2d9e6f701","timestamp":1740830400.0,"stage":"auth","kind":"intrusion","action":"block","client":"ip:203.0.113.66","detail":"5 failed authentications from ip:203.0.113.66 within 60 s","data":{"failures":5,"window_s":60.0},"source":"edge"}
{"id":"1b9e0f6a2c3d4e5f8a7b6c5d4e3f2a10","timestamp":1740830401.5,"stage":"validate","kind":"spec_violation","action":"allow","client":"ip:10.1.1.1","detail":"1 row(s) outside the input spec","data":{"violations":{"bounds":1}},"source":"edge"}
{"id":"9a0b3c4d5e6f","timestamp":17408
LINES

redwatch guard replay "$out/spool"
redwatch guard replay "$out/spool"   # nothing left: a second replay is harmless
redwatch guard events --kind intrusion
redwatch guard events --json --limit 1
ls "$out/spool"
