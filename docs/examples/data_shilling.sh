# MovieLens-100k with 28 seeded average-attack profiles pushing one item, scanned and
# quarantined account by account.
python - <<'PY'
from redwatch.data.shilling_attacks import AttackSpec, inject_attack
from redwatch.demo.movielens import load_movielens_100k

attack = inject_attack(load_movielens_100k(), AttackSpec("average", attack_size=0.03, seed=1))
attack.frame.to_csv("ratings.csv", index=False)
print(f"injected {len(attack.fake_users)} fake accounts pushing item {attack.target}")
PY
code=0
redwatch data scan ratings.csv --kind interactions --json \
    --quarantine quarantine.csv > scan.json || code=$?
echo "scan exit code: $code"
python - <<'PY'
import json

shilling = json.load(open("scan.json"))["summary"]["detectors"]["shilling"]
for cluster in shilling["clusters"]:
    targets = ", ".join(f"item {t['item']} rated {t['rating']:g}" for t in cluster["targets"])
    print(f"cluster of {cluster['accounts']} accounts: {targets}")
print("flagged accounts:", len(shilling["flagged_users"]))
PY
echo "quarantined rows: $(($(wc -l < quarantine.csv) - 1)), clean rows: $(($(wc -l < quarantine.clean.csv) - 1))"
