"""Guard policy versions in the store: validated before they are stored, numbered per
target, exactly one active per target, audited, and refused for unknown targets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redwatch.exceptions import UsageError
from redwatch.guard.policy import Policy
from redwatch.service import policies
from redwatch.service.audit_log import list_audit
from redwatch.service.keys import SYSTEM
from redwatch.store.repository import Store
from redwatch.store.service_models import RegistrationRow

OUTPUT = {"stages": [{"name": "output", "options": {"decimals": 2}}]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'p.db'}") as opened:
        with opened.transaction("register", write=True) as session:
            for name in ("a", "b"):
                session.add(RegistrationRow(name=name, spec={}, monitor={}))
        yield opened


def test_versions_count_per_target_and_one_is_active(store: Store) -> None:
    first = policies.create_policy(store, SYSTEM, "a", OUTPUT, "test")
    second = policies.create_policy(store, SYSTEM, "a", {"stages": []}, "test")
    other = policies.create_policy(store, SYSTEM, "b", OUTPUT, "test", activate=True)
    assert (first["version"], second["version"], other["version"]) == (1, 2, 1)
    assert policies.active_policy(store, "a") is None
    policies.activate_policy(store, SYSTEM, first["id"])
    policies.activate_policy(store, SYSTEM, second["id"])
    listed = policies.list_policies(store, "a")
    assert [(p["version"], p["active"]) for p in listed] == [(2, True), (1, False)]
    active_b = policies.active_policy(store, "b")
    assert active_b is not None
    assert active_b["id"] == other["id"]
    assert policies.activate_policy(store, SYSTEM, 999) is None
    actions = [e["action"] for e in list_audit(store)]
    assert actions.count("policies.create") == 3
    assert actions.count("policies.activate") == 3


def test_bad_documents_and_unknown_targets_are_refused(store: Store) -> None:
    with pytest.raises(UsageError, match=r"policy for a: stages\.0\.name"):
        policies.create_policy(store, SYSTEM, "a", {"stages": [{"options": {}}]}, "t")
    with pytest.raises(UsageError, match="expected a mapping"):
        policies.create_policy(store, SYSTEM, "a", ["stages"], "t")
    with pytest.raises(policies.UnknownTarget):
        policies.create_policy(store, SYSTEM, "zzz", OUTPUT, "t")
    seen: list[Policy] = []

    def refuse(policy: Policy) -> None:
        seen.append(policy)
        raise UsageError("stage detect: needs reference data")

    with pytest.raises(UsageError, match="needs reference data"):
        policies.create_policy(store, SYSTEM, "a", OUTPUT, "t", refuse, activate=True)
    assert seen[0].stage_names() == ["output"]
    assert policies.list_policies(store, "a") == []  # nothing half-written
