"""Guard policy versions of registered targets in the store: create a version (validated
before it is stored), activate one (exactly one active per target, switched in one
transaction), and read the active one or the list. The in-service guard reads the active
version; a target with none runs the default policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from redwatch.guard.policy import Policy, parse_policy
from redwatch.service.audit_log import record
from redwatch.service.keys import Principal
from redwatch.store.models import utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import PolicyRow, RegistrationRow
from redwatch.store.views import iso

PolicyCheck = Callable[[Policy], None]


class UnknownTarget(LookupError):
    """The target is not registered (routes answer 404)."""


def policy_document(row: PolicyRow) -> dict[str, Any]:
    """One stored policy version as JSON."""
    return {
        "id": row.id,
        "target": row.target,
        "version": row.version,
        "active": row.active,
        "source": row.source,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "document": row.document,
    }


def validate(document: Any, target: str, check: PolicyCheck | None = None) -> Policy:
    """The parsed policy; UsageError (one line) for a bad document, and whatever `check`
    raises (the guard cache builds the pipeline on the target's model and data)."""
    policy = parse_policy(document, f"policy for {target}")
    if check is not None:
        check(policy)
    return policy


def create_policy(
    store: Store,
    who: Principal,
    target: str,
    document: Any,
    source: str,
    check: PolicyCheck | None = None,
    *,
    activate: bool = False,
) -> dict[str, Any]:
    """Store a new policy version of `target` after validating it; audited. `activate`
    makes it the active one in the same transaction (so that a mitigation never leaves a
    stored but inactive patch behind)."""
    policy = validate(document, target, check)
    what = "store and activate" if activate else "store"
    with store.transaction(f"{what} a guard policy for {target}", write=True) as session:
        row = _insert(session, who, target, policy, source)
        if activate:
            _switch(session, row)
        record(session, who, "policies.create", str(row.id), {"target": target, "source": source})
        if activate:
            record(session, who, "policies.activate", str(row.id), {"target": target})
        return policy_document(row)


def _insert(
    session: Session, who: Principal, target: str, policy: Policy, source: str
) -> PolicyRow:
    """Add the next version of `target`'s policy; UnknownTarget when it is not registered."""
    if session.get(RegistrationRow, target) is None:
        raise UnknownTarget(f"no registered target {target}")
    latest = session.scalar(select(func.max(PolicyRow.version)).where(PolicyRow.target == target))
    row = PolicyRow(
        target=target,
        version=int(latest or 0) + 1,
        document=policy.model_dump(mode="json"),
        source=source[:255],
        active=False,
        created_at=utcnow(),
        created_by=who.actor,
    )
    session.add(row)
    session.flush()
    return row


def activate_policy(store: Store, who: Principal, policy_id: int) -> dict[str, Any] | None:
    """Make policy `policy_id` its target's only active version; None when it does not
    exist. Audited in the same transaction."""
    with store.transaction(f"activate guard policy {policy_id}", write=True) as session:
        row = session.get(PolicyRow, policy_id)
        if row is None:
            return None
        _switch(session, row)
        record(session, who, "policies.activate", str(row.id), {"target": row.target})
        return policy_document(row)


def _switch(session: Session, row: PolicyRow) -> None:
    """Deactivate every version of the row's target, then activate the row. On PostgreSQL
    a concurrent switch waits on the row locks and re-reads, so one version stays active."""
    session.execute(
        update(PolicyRow)
        .where(PolicyRow.target == row.target, PolicyRow.id != row.id)
        .values(active=False)
    )
    row.active = True
    session.flush()


def get_policy(store: Store, policy_id: int) -> dict[str, Any] | None:
    """One policy version, or None."""
    with store.transaction(f"read guard policy {policy_id}") as session:
        row = session.get(PolicyRow, policy_id)
        return None if row is None else policy_document(row)


def active_policy(store: Store, target: str) -> dict[str, Any] | None:
    """The active policy version of `target`, or None (the guard runs the default)."""
    with store.transaction(f"read the active guard policy of {target}") as session:
        row = session.scalars(
            select(PolicyRow)
            .where(PolicyRow.target == target, PolicyRow.active.is_(True))
            .order_by(PolicyRow.version.desc())
            .limit(1)
        ).first()
        return None if row is None else policy_document(row)


def list_policies(store: Store, target: str) -> list[dict[str, Any]]:
    """Every policy version of `target`, newest first."""
    with store.transaction(f"list the guard policies of {target}") as session:
        rows = session.scalars(
            select(PolicyRow).where(PolicyRow.target == target).order_by(PolicyRow.version.desc())
        ).all()
        return [policy_document(row) for row in rows]
