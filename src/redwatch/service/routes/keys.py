"""/api/v1/keys: create, list and revoke API keys (admin only). The secret is in the
creation answer and nowhere else."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from redwatch.service import keys
from redwatch.service.audit_log import audited
from redwatch.service.auth import Admin
from redwatch.service.state import State

router = APIRouter(tags=["keys"])


class NewKey(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    role: str = Field(pattern="^(viewer|analyst|admin)$")


@router.get("/keys")
def list_keys(who: Admin, state: State) -> list[dict[str, Any]]:
    """Every key (never a secret)."""
    return keys.list_keys(state.store)


@router.post("/keys", status_code=201)
def create_key(body: NewKey, who: Admin, state: State) -> dict[str, Any]:
    """A new key; the answer's `key` is the only time the secret is shown."""
    document, secret = keys.create_key(state.store, body.name, body.role, created_by=who.actor)
    audited(state.store, who, "keys.create", document["id"], {"name": body.name, "role": body.role})
    return {**document, "key": secret}


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, who: Admin, state: State) -> dict[str, Any]:
    """Revoke a key at once; later requests with it get 401."""
    document = keys.revoke_key(state.store, key_id)
    if document is None:
        raise HTTPException(404, f"no API key {key_id}")
    audited(state.store, who, "keys.revoke", document["id"], {"name": document["name"]})
    return document
