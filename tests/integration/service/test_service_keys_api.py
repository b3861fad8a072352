"""API keys through the API: admin creates, lists and revokes; a revoked key gets 401; the
audit log records who did it; bad input gets one-line 4xx errors."""

from __future__ import annotations

from service_harness import Harness


def test_admin_creates_lists_and_revokes_a_key(service: Harness) -> None:
    created = service.post("/api/v1/keys", role="admin", json={"name": "ci", "role": "analyst"})
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = service.get("/api/v1/keys", role="admin").json()
    assert [k["name"] for k in listed if k["id"] == created.json()["id"]] == ["ci"]
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    assert service.client.get("/api/v1/keys", headers={"X-API-Key": secret}).status_code == 403
    revoked = service.client.delete(
        f"/api/v1/keys/{created.json()['id']}", headers=service.headers("admin")
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    again = service.client.get("/api/v1/audit", headers={"X-API-Key": secret})
    assert again.status_code == 401
    actions = [e["action"] for e in service.get("/api/v1/audit", role="admin").json()]
    assert actions[:2] == ["keys.revoke", "keys.create"]


def test_bad_key_requests_are_one_line_errors(service: Harness) -> None:
    bad_role = service.post("/api/v1/keys", role="admin", json={"name": "x", "role": "root"})
    assert bad_role.status_code == 422
    assert "role" in bad_role.json()["error"]
    missing = service.client.delete("/api/v1/keys/nope", headers=service.headers("admin"))
    assert missing.status_code == 404
    assert missing.json() == {"error": "no API key nope"}
    assert service.client.get("/api/v1/keys").status_code == 401
    assert service.client.get("/healthz").json()["status"] == "ok"
