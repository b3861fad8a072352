"""Store behaviour on a real database: round trips, atomic completion, history, look-ups.

The PostgreSQL integration suite reuses every test here by overriding `database_url`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from redwatch.exceptions import StoreError, UsageError
from redwatch.findings import Finding, Severity
from redwatch.store import Store
from redwatch.store.models import CampaignRow, FindingRow

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from campaign_records import make_finding, make_result, run_campaign


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite file in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'home' / 'redwatch.db'}"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """Opened (and migrated) store, closed after the test."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


def finding_rows(store: Store, campaign_id: str) -> int:
    """Number of finding rows stored for a campaign, counted in SQL."""
    with store.engine.connect() as conn:
        query = select(func.count()).where(FindingRow.campaign_id == campaign_id)
        return int(conn.execute(query).scalar_one())


def test_start_campaign_records_a_running_campaign(store: Store) -> None:
    campaign_id = store.start_campaign("credit", "sklearn", {"budget": {"queries": 100}})
    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert doc["status"] == "running"
    assert doc["campaign"]["config"] == {"budget": {"queries": 100}}
    assert doc["findings"] == []
    assert store.history("credit") == []
    listed = store.list_campaigns()
    assert [c["id"] for c in listed] == [campaign_id]
    assert listed[0]["started_at"].endswith("+00:00")


def test_complete_campaign_round_trips_report_and_findings(store: Store) -> None:
    findings = [make_finding("l2", Severity.HIGH), make_finding("linf", Severity.LOW)]
    campaign_id = store.start_campaign("credit", "sklearn", {})
    result = make_result(campaign_id, findings)
    store.complete_campaign(result)

    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert doc["status"] == "completed"
    assert doc["error"] is None
    expected = result.to_dict()
    assert {k: doc[k] for k in expected} == expected
    assert list(doc["summary"]["counts"]) == ["critical", "high", "medium", "low", "info"]

    stored = store.list_findings(campaign=campaign_id)
    assert [f["fingerprint"] for f in stored] == [f.fingerprint for f in findings]
    back = Finding.from_dict(stored[0])
    assert back.fingerprint == findings[0].fingerprint
    assert back.mitigations == findings[0].mitigations
    assert stored[0]["status"] == "new"
    assert stored[0]["campaign_id"] == campaign_id

    summary = store.list_campaigns(target="credit")[0]
    assert summary["status"] == "completed"
    assert summary["counts"]["high"] == 1
    assert summary["counts"]["low"] == 1
    assert summary["findings"] == 2
    finished = datetime.fromisoformat(summary["finished_at"])
    assert finished.tzinfo is not None
    assert finished.utcoffset() == UTC.utcoffset(None)


def test_unserializable_report_rolls_back_every_finding_row(store: Store) -> None:
    campaign_id = store.start_campaign("credit", "sklearn", {})
    result = make_result(campaign_id, [make_finding("a"), make_finding("b")])
    result.config = {"model": object()}  # findings flush first, then the report fails

    with pytest.raises(StoreError, match="not JSON serializable"):
        store.complete_campaign(result)

    assert finding_rows(store, campaign_id) == 0
    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert doc["status"] == "failed"
    assert "not JSON serializable" in doc["error"]
    assert store.history("credit") == []


def test_failure_after_rows_were_inserted_rolls_them_back(store: Store) -> None:
    campaign_id = store.start_campaign("credit", "sklearn", {})
    result = make_result(campaign_id, [make_finding(str(i)) for i in range(5)])
    inserted: list[str] = []

    def explode_on_third(_mapper: Any, _conn: Any, row: FindingRow) -> None:
        inserted.append(row.fingerprint)
        if len(inserted) == 3:
            raise RuntimeError("disk full")

    event.listen(FindingRow, "after_insert", explode_on_third)
    try:
        with pytest.raises(StoreError, match="disk full"):
            store.complete_campaign(result)
    finally:
        event.remove(FindingRow, "after_insert", explode_on_third)

    assert len(inserted) == 3
    assert finding_rows(store, campaign_id) == 0
    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert doc["status"] == "failed"
    assert doc["error"].endswith("disk full")
    assert doc["findings"] == []


def test_unserializable_finding_metrics_fail_the_campaign(store: Store) -> None:
    campaign_id = store.start_campaign("credit", "sklearn", {})
    bad = make_finding("b", extra=object())
    with pytest.raises(StoreError, match=campaign_id):
        store.complete_campaign(make_result(campaign_id, [make_finding("a"), bad]))
    assert finding_rows(store, campaign_id) == 0
    assert store.list_campaigns()[0]["status"] == "failed"


def test_completing_twice_is_refused_and_keeps_the_first_result(store: Store) -> None:
    campaign_id = run_campaign(store, [make_finding("a")])
    with pytest.raises(StoreError, match="already completed"):
        store.complete_campaign(make_result(campaign_id, [make_finding("x"), make_finding("y")]))
    assert finding_rows(store, campaign_id) == 1
    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert doc["status"] == "completed"


def test_completing_an_unknown_campaign_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown campaign"):
        store.complete_campaign(make_result("f" * 32, [make_finding("a")]))


def test_fail_campaign_records_the_error(store: Store) -> None:
    campaign_id = store.start_campaign("credit", "sklearn", {})
    store.fail_campaign(campaign_id, "target stopped answering")
    doc = store.get_campaign(campaign_id)
    assert doc is not None
    assert (doc["status"], doc["error"]) == ("failed", "target stopped answering")
    assert doc["campaign"]["finished_at"] is not None
    with pytest.raises(StoreError, match="unknown campaign"):
        store.fail_campaign("0" * 32, "x")


def test_history_and_diff_over_three_campaigns(store: Store) -> None:
    a, b, c = make_finding("a"), make_finding("b"), make_finding("c")
    first = run_campaign(store, [a, b])
    failed = store.start_campaign("credit", "sklearn", {})
    store.fail_campaign(failed, "crashed")  # failed campaigns do not count as history
    second = run_campaign(store, [b, c])
    run_campaign(store, [a], target="other-model")  # other targets do not count either

    assert store.history("credit") == [
        {a.fingerprint, b.fingerprint},
        {b.fingerprint, c.fingerprint},
    ]
    third = run_campaign(store, [a, c])

    status = {f["fingerprint"]: f["status"] for f in store.list_findings(campaign=second)}
    assert status == {b.fingerprint: "open", c.fingerprint: "new"}
    status = {f["fingerprint"]: f["status"] for f in store.list_findings(campaign=third)}
    assert status == {a.fingerprint: "regressed", c.fingerprint: "open"}
    doc = store.get_campaign(third)
    assert doc is not None
    assert doc["fixed"] == [{"fingerprint": b.fingerprint}]
    assert len(store.history("credit")) == 3
    assert first != second != third


def test_list_findings_latest_only_target_and_severity(store: Store) -> None:
    run_campaign(store, [make_finding("old", Severity.CRITICAL)])
    latest = run_campaign(store, [make_finding("a", Severity.LOW), make_finding("b")])
    other = run_campaign(store, [make_finding("z", Severity.MEDIUM, target="m2")], "m2")
    running = store.start_campaign("credit", "sklearn", {})

    rows = store.list_findings()
    assert {r["campaign_id"] for r in rows} == {latest, other}
    assert [r["severity"] for r in rows] == ["high", "medium", "low"]
    assert running not in {r["campaign_id"] for r in rows}

    credit = store.list_findings(target="credit")
    assert {r["key"] for r in credit} == {"a", "b"}
    serious = store.list_findings(severity_at_least=Severity.MEDIUM)
    assert {r["key"] for r in serious} == {"b", "z"}
    everything = store.list_findings(target="credit", latest_only=False)
    assert {r["key"] for r in everything} == {"old", "a", "b"}
    assert store.list_findings(target="never-scanned") == []


def test_list_campaigns_newest_first_with_limit(store: Store) -> None:
    ids = [run_campaign(store, [make_finding(str(i))]) for i in range(4)]
    listed = store.list_campaigns(limit=3)
    assert [c["id"] for c in listed] == ids[::-1][:3]
    assert store.list_campaigns(target="nobody") == []


def test_get_campaign_by_unique_prefix(store: Store) -> None:
    ids = [store.start_campaign("credit", "sklearn", {}) for _ in range(17)]
    by_first_char: dict[str, list[str]] = {}
    for campaign_id in ids:
        by_first_char.setdefault(campaign_id[0], []).append(campaign_id)
    shared = next(ch for ch, group in by_first_char.items() if len(group) > 1)

    for campaign_id in ids:
        doc = store.get_campaign(campaign_id[:12].upper())
        assert doc is not None
        assert doc["campaign"]["id"] == campaign_id
    with pytest.raises(UsageError, match="ambiguous"):
        store.get_campaign(shared)
    assert store.get_campaign("") is None
    assert store.get_campaign("zz-not-hex%") is None
    unused = sorted(set("0123456789abcdef") - by_first_char.keys())
    if unused:
        assert store.get_campaign(unused[0]) is None


def test_list_findings_of_unknown_campaign_is_a_usage_error(store: Store) -> None:
    with pytest.raises(UsageError, match="no campaign matches"):
        store.list_findings(campaign="abc123")


def test_config_that_is_not_strict_json_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot start a campaign"):
        store.start_campaign("credit", "sklearn", {"eps": float("nan")})
    assert store.list_campaigns() == []


def test_target_kind_follows_the_latest_campaign(store: Store) -> None:
    store.start_campaign("credit", "sklearn", {})
    store.start_campaign("credit", "onnx", {})
    kinds = {c["target_kind"] for c in store.list_campaigns(target="credit")}
    assert kinds == {"onnx"}
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CampaignRow)).scalar_one() == 2


def test_concurrent_first_opens_and_writers_all_succeed(database_url: str) -> None:
    def scan(index: int) -> str:
        with Store.open(database_url) as own:  # every thread migrates the fresh database
            return run_campaign(own, [make_finding(f"k{index}"), make_finding("shared")])

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(scan, range(8)))

    with Store.open(database_url) as store:
        assert {c["id"] for c in store.list_campaigns()} == set(ids)
        assert len(store.history("credit")) == 8
        assert all(finding_rows(store, campaign_id) == 2 for campaign_id in ids)
