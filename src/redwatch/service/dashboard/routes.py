"""The dashboard's pages at `/` and `/ui/...`: overview, target, incidents, findings, the
login form (which stores the API key in an HttpOnly, SameSite=Strict cookie) and the htmx
partials those pages reload. Everything here reads; changes go through /api/v1 with the
`HX-Request` header htmx sends, so the API's roles and audit log apply to them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from redwatch.findings import Severity
from redwatch.reports.document import format_value, split_metrics
from redwatch.service.auth import COOKIE, Viewer, require
from redwatch.service.dashboard import charts, queries
from redwatch.service.dashboard.static import FILES, asset_version
from redwatch.service.dashboard.static import router as static_router
from redwatch.service.dashboard.views import short_time
from redwatch.service.keys import Principal, authenticate
from redwatch.service.state import State
from redwatch.store.service_models import INCIDENT_STATUSES

LOGIN = "/ui/login"
MAX_KEY_CHARS = 128
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)
router.include_router(static_router)
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["j2", "html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(
    versions={name: asset_version(name) for name in FILES},
    severities=queries.SEVERITIES,
    fmt=format_value,
)
_env.filters["when"] = short_time


def page_viewer(request: Request, state: State) -> Principal:
    """Viewer (or above) for a full page; without a valid key, a redirect to the login
    form instead of a JSON 401 (a person, not a script, is asking)."""
    try:
        return require("viewer")(request, state)
    except HTTPException as exc:
        if exc.status_code != 401:
            raise
        raise HTTPException(303, "log in first", headers={"Location": LOGIN}) from None


PageViewer = Annotated[Principal, Depends(page_viewer)]


def render(template: str, code: int = 200, /, **context: Any) -> HTMLResponse:
    """A template rendered to an HTML response with the dashboard's headers."""
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=code, headers=HEADERS)


def not_found(who: Principal, message: str) -> HTMLResponse:
    """The 404 page."""
    return render("not_found.html.j2", 404, who=who, message=message)


def _severity(text: str | None) -> Severity | None:
    """The severity filter of a request ('' or missing: none); UsageError (400) if bad."""
    return Severity.parse(text) if text else None


def _status(text: str | None) -> str | None:
    """The incident status filter ('' or missing: none); 400 if it is not a status."""
    if not text:
        return None
    if text not in INCIDENT_STATUSES:
        raise HTTPException(400, f"unknown status {text!r}; one of {', '.join(INCIDENT_STATUSES)}")
    return text


# -- login -------------------------------------------------------------------------------


@router.get("/ui/login")
def login_form(request: Request) -> HTMLResponse:
    """The login form (no key needed to see it)."""
    return render("login.html.j2", who=None, error=None)


@router.post("/ui/login")
def login(request: Request, state: State, key: Annotated[str, Form()] = "") -> Response:
    """Check the key and keep it in the dashboard cookie; the form again on a bad key."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "log in from the dashboard's own page")
    secret = key.strip()
    who = authenticate(state.store, secret) if 0 < len(secret) <= MAX_KEY_CHARS else None
    if who is None:
        return render("login.html.j2", 401, who=None, error="invalid or revoked API key")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.api_route("/ui/logout", methods=["GET", "POST"])
def logout() -> Response:
    """Forget the cookie and go back to the login form."""
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# -- pages -------------------------------------------------------------------------------


@router.get("/")
def overview(who: PageViewer, state: State) -> HTMLResponse:
    """Targets, open findings by severity, the trend, open incidents and recent alerts."""
    store = state.store
    return render(
        "overview.html.j2",
        who=who,
        charts=True,
        targets=queries.targets(store),
        counts=queries.open_counts(store.list_findings()),
        trend=charts.severity_trend(queries.completed_campaigns(store)),
        incidents=queries.open_incidents(store),
        alerts=queries.alerts(store),
    )


@router.get("/ui/targets/{name}")
def target_page(name: str, who: PageViewer, state: State) -> HTMLResponse:
    """One target: campaigns, robustness curves, drift, guard events, active policy."""
    store = state.store
    if not queries.target_known(store, name):
        return not_found(who, f"no target named {name!r}")
    report = queries.latest_report(store, name)
    return render(
        "target.html.j2",
        who=who,
        charts=True,
        name=name,
        registration=queries.registration(store, name),
        campaigns=store.list_campaigns(target=name, limit=50),
        robustness=charts.robustness(queries.robustness_curves(report)),
        drift=charts.monitor(queries.monitor_points(store, name)),
        events=charts.events_by_kind(queries.guard_events(store, name)),
        policy=queries.active_policy(store, name),
    )


@router.get("/ui/incidents")
def incidents_page(who: PageViewer, state: State, status: str = "") -> HTMLResponse:
    """Every incident, newest first, filterable by status."""
    chosen = _status(status)
    return render(
        "incidents.html.j2",
        who=who,
        statuses=INCIDENT_STATUSES,
        status=chosen,
        incidents=queries.incidents(state.store, chosen),
    )


@router.get("/ui/incidents/{incident_id}")
def incident_page(incident_id: int, who: PageViewer, state: State) -> HTMLResponse:
    """One incident: status, timeline, alerts and the action buttons (analysts)."""
    incident = queries.incident(state.store, incident_id)
    if incident is None:
        return not_found(who, f"no incident #{incident_id}")
    return render("incident.html.j2", who=who, incident=incident, can_change=who.can("analyst"))


@router.get("/ui/findings")
def findings_page(who: PageViewer, state: State, severity: str = "") -> HTMLResponse:
    """Open findings with a severity filter (reloaded in place by htmx)."""
    chosen = _severity(severity)
    return render(
        "findings.html.j2",
        who=who,
        severity=chosen.label if chosen else None,
        findings=queries.findings(state.store, chosen),
    )


@router.get("/ui/findings/{finding_id}")
def finding_page(finding_id: int, who: PageViewer, state: State) -> HTMLResponse:
    """One finding with its metrics, evidence and mitigation."""
    finding = queries.finding(state.store, finding_id)
    if finding is None:
        return not_found(who, f"no finding #{finding_id}")
    curves = queries.robustness_curves({"findings": [finding]})
    return render(
        "finding.html.j2",
        who=who,
        can_change=who.can("analyst"),
        charts=bool(curves),
        finding=finding,
        metrics=split_metrics(finding.get("metrics") or {}),
        robustness=charts.robustness(curves),
    )


# -- htmx partials -----------------------------------------------------------------------


@router.get("/ui/partials/alerts")
def alerts_partial(who: Viewer, state: State) -> HTMLResponse:
    """The recent-alerts table of the overview."""
    return render("alerts_partial.html.j2", alerts=queries.alerts(state.store))


@router.get("/ui/partials/incidents")
def incidents_partial(who: Viewer, state: State, status: str = "") -> HTMLResponse:
    """The incidents table for a status filter."""
    rows = queries.incidents(state.store, _status(status))
    return render("incidents_partial.html.j2", incidents=rows)


@router.get("/ui/partials/incidents/{incident_id}/status")
def incident_status_partial(incident_id: int, who: Viewer, state: State) -> HTMLResponse:
    """An incident's status and timeline, reloaded after an action."""
    incident = queries.incident(state.store, incident_id)
    if incident is None:
        raise HTTPException(404, f"no incident #{incident_id}")
    return render("incident_status.html.j2", incident=incident)


@router.get("/ui/partials/findings")
def findings_partial(who: Viewer, state: State, severity: str = "") -> HTMLResponse:
    """The findings table for a severity filter."""
    chosen = _severity(severity)
    return render(
        "findings_partial.html.j2",
        severity=chosen.label if chosen else None,
        findings=queries.findings(state.store, chosen),
    )
