"""Every route in the OpenAPI schema, whoever added it: no key or a bad key gets 401, a key
below the route's role gets 403, the right role gets neither. The role a route needs is read
from its dependency (`require_<role>`), so new routes are covered without editing this test;
a route without one fails here, unless it is /healthz."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute, iter_route_contexts
from service_harness import ROLES, Harness

OPEN_ROUTES = {("GET", "/healthz")}
PLACEHOLDER = {"integer": "987654", "number": "1.5", "boolean": "true"}


def required_role(route: APIRoute) -> str | None:
    """The role of the route's require_<role> dependency (searched through sub-dependencies)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("require_"):
            return name.removeprefix("require_")
        pending.extend(dependency.dependencies)
    return None


def operations(service: Harness) -> list[tuple[str, str, dict[str, Any], str | None]]:
    """(method, path, OpenAPI operation, required role) of every operation in the schema."""
    app = service.client.app
    schema = app.openapi()  # type: ignore[attr-defined]
    routes = {
        (method, context.path): context.original_route
        for context in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            route = routes[(method.upper(), path)]
            found.append((method.upper(), path, operation, required_role(route)))
    return found


def concrete(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The path with placeholder values for its parameters, and the required query ones."""
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        kind = parameter.get("schema", {}).get("type", "string")
        value = PLACEHOLDER.get(kind, "zz-missing")
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", value)
        elif parameter["in"] == "query" and parameter.get("required"):
            query[parameter["name"]] = value
    return path, query


def call(service: Harness, method: str, path: str, query: dict[str, str], key: str | None) -> int:
    """Status of one request with `key` (None: no key) and an empty JSON body."""
    headers = {} if key is None else {"X-API-Key": key}
    body = {} if method in ("POST", "PUT", "PATCH") else None
    response = service.client.request(method, path, params=query, headers=headers, json=body)
    return int(response.status_code)


def test_every_route_requires_its_role(service_sqlite: Harness) -> None:
    service = service_sqlite
    found = operations(service)
    assert len(found) >= 10  # keys, audit, events, campaigns, findings, /healthz at least
    problems = []
    for method, template, operation, role in found:
        path, query = concrete(template, operation)
        if (method, template) in OPEN_ROUTES:
            assert call(service, method, path, query, None) == 200
            continue
        if role is None:
            problems.append(f"{method} {template}: no require_<role> dependency")
            continue
        rank = ROLES.index(role)
        expected = {None: 401, "rwk_not-a-real-key": 401}
        expected.update({service.keys[low]: 403 for low in ROLES[:rank]})
        for key, status in expected.items():
            got = call(service, method, path, query, key)
            if got != status:
                problems.append(f"{method} {template} with {key!r:.12}: {got}, wanted {status}")
        for allowed in ROLES[rank:]:
            got = call(service, method, path, query, service.keys[allowed])
            if got in (401, 403):
                problems.append(f"{method} {template} as {allowed}: {got}")
    assert problems == []


def test_required_roles_are_read_from_dependencies(service_sqlite: Harness) -> None:
    roles = {(method, path): role for method, path, _, role in operations(service_sqlite)}
    assert roles[("GET", "/healthz")] is None
    assert roles[("POST", "/api/v1/events")] == "analyst"
    assert roles[("GET", "/api/v1/events")] == "viewer"
    assert roles[("DELETE", "/api/v1/keys/{key_id}")] == "admin"
    bare = APIRouter()
    bare.add_api_route("/open", lambda: {}, methods=["GET"])
    route = bare.routes[0]
    assert isinstance(route, APIRoute)
    assert required_role(route) is None
