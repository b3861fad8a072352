"""API keys: create, list, revoke, authenticate. Only the SHA-256 of a key is stored; the
key itself is shown once, when it is created."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from redwatch.exceptions import UsageError
from redwatch.store.models import utcnow
from redwatch.store.repository import Store
from redwatch.store.service_models import ROLES, ApiKeyRow
from redwatch.store.views import iso

KEY_PREFIX = "rwk_"
RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and name, and its role."""

    key_id: str
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when this principal's role is `role` or above (viewer < analyst < admin)."""
        return RANK[self.role] >= RANK[role]

    @property
    def actor(self) -> str:
        """How the audit log names this principal (a built-in one by its name alone)."""
        if self.key_id == self.name:
            return self.name
        return f"{self.name} ({self.key_id[:8]})"


SYSTEM = Principal("system", "redwatch", "admin")
# The command line (`redwatch keys ...`), which has direct access to the store.
CLI = Principal("cli", "cli", "admin")


def hash_key(secret: str) -> str:
    """SHA-256 hex digest of a key (what the store keeps)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    """`role` when it is one of viewer, analyst, admin; UsageError otherwise."""
    if role not in RANK:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def create_key(
    store: Store, name: str, role: str, created_by: str = "cli"
) -> tuple[dict[str, Any], str]:
    """A new key for `name` with `role`; returns its listing entry and the secret."""
    check_role(role)
    if not name.strip() or len(name) > 255:
        raise UsageError("a key needs a name of 1 to 255 characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKeyRow(
        id=uuid.uuid4().hex,
        name=name.strip(),
        role=role,
        prefix=secret[: len(KEY_PREFIX) + 6],
        secret_hash=hash_key(secret),
        created_at=utcnow(),
        created_by=created_by,
    )
    with store.transaction(f"create an API key for {name!r}", write=True) as session:
        session.add(row)
    return key_document(row), secret


def list_keys(store: Store) -> list[dict[str, Any]]:
    """Every key, newest first (never the secret)."""
    with store.transaction("list API keys") as session:
        rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc())).all()
        return [key_document(row) for row in rows]


def revoke_key(store: Store, key_id: str) -> dict[str, Any] | None:
    """Revoke the key whose id (or unique id prefix of 8+ characters) is `key_id`."""
    with store.transaction(f"revoke API key {key_id}", write=True) as session:
        row = _find(session, key_id)
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return key_document(row)


def authenticate(store: Store, secret: str) -> Principal | None:
    """The principal of an active key, None for an unknown or revoked one."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
        return None
    with store.transaction("check an API key") as session:
        row = session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.secret_hash == hash_key(secret))
        ).one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        return Principal(row.id, row.name, row.role)


def count_admins(store: Store) -> int:
    """How many active admin keys exist (0 on a fresh install)."""
    with store.transaction("count admin keys") as session:
        rows = session.scalars(
            select(ApiKeyRow.id).where(ApiKeyRow.role == "admin", ApiKeyRow.revoked_at.is_(None))
        ).all()
        return len(rows)


def key_document(row: ApiKeyRow) -> dict[str, Any]:
    """A key as the API and CLI list it."""
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "revoked_at": iso(row.revoked_at),
    }


def _find(session: Any, key_id: str) -> ApiKeyRow | None:
    """The key with this id, or the only key whose id starts with it (8+ characters)."""
    row = session.get(ApiKeyRow, key_id)
    if row is not None or len(key_id) < 8:
        return row
    rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.id.startswith(key_id))).all()
    return rows[0] if len(rows) == 1 else None
