"""Authentication and roles for every route: an API key in `X-API-Key`, in
`Authorization: Bearer`, or (the dashboard) in the `redwatch_key` cookie. 401 without a
valid key, 403 when the key's role is below the route's. A cookie alone never authorises a
change: unsafe methods with cookie auth also need the `HX-Request` header that htmx sends
(a cross-site form cannot set it), and the cookie is SameSite=Strict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from redwatch.service.keys import Principal, authenticate
from redwatch.service.state import ServiceState, State

COOKIE = "redwatch_key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def presented_key(request: Request) -> tuple[str | None, bool]:
    """The key the request carries and whether it came from the cookie."""
    header = request.headers.get("x-api-key")
    if header:
        return header.strip(), False
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def principal_of(request: Request, state: ServiceState) -> Principal:
    """The caller, or HTTPException 401 naming what is wrong."""
    key, from_cookie = presented_key(request)
    if not key:
        raise HTTPException(401, "missing API key: send X-API-Key or Authorization: Bearer")
    who = authenticate(state.store, key)
    if who is None:
        raise HTTPException(401, "invalid or revoked API key")
    if from_cookie and request.method not in SAFE_METHODS and "hx-request" not in request.headers:
        raise HTTPException(403, "a change with the dashboard cookie must come from the dashboard")
    return who


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting callers whose role is `role` or above."""

    def dependency(request: Request, state: State) -> Principal:
        who = principal_of(request, state)
        if not who.can(role):
            raise HTTPException(403, f"role {who.role} may not do this; it needs {role}")
        request.state.principal = who
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


# Route parameters: `who: Viewer` admits viewers and above, and so on.
Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]
