"""Static files of the dashboard, all from this machine: htmx from the installed
django-js-lib-htmx package and Plotly's bundle from the installed plotly package (located
through their distribution records, nothing imported), plus our own CSS and script. Long
cache headers; pages add a version query so an upgrade is fetched anew."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

HERE = Path(__file__).parent / "static"
CACHE = "public, max-age=31536000, immutable"
# name -> (distribution, path inside its install) or (None, file in our static folder)
FILES: dict[str, tuple[str | None, str]] = {
    "htmx.min.js": ("django-js-lib-htmx", "js_lib_htmx/static/htmx/htmx.min.js"),
    "plotly.min.js": ("plotly", "plotly/package_data/plotly.min.js"),
    "dashboard.css": (None, "dashboard.css"),
    "dashboard.js": (None, "dashboard.js"),
}
MEDIA = {".js": "text/javascript", ".css": "text/css"}

router = APIRouter(include_in_schema=False)


def locate(name: str) -> Path:
    """Path of a served static file; HTTPException 404 for an unknown name or a package
    that is not installed."""
    if name not in FILES:
        raise HTTPException(404, f"no static file {name}")
    dist, inner = FILES[name]
    if dist is None:
        path = HERE / inner
    else:
        try:
            path = Path(str(importlib.metadata.distribution(dist).locate_file(inner)))
        except importlib.metadata.PackageNotFoundError:
            raise HTTPException(404, f"{name} needs the {dist} package installed") from None
    if not path.is_file():
        raise HTTPException(404, f"{name} is missing from its package ({path})")
    return path


def asset_version(name: str) -> str:
    """The version to put in an asset's URL: the package version, or ours for our files."""
    dist = FILES[name][0] or "redwatch"
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "0"


@router.get("/ui/static/{name}")
def static_file(name: str) -> FileResponse:
    """One static file with a year-long cache lifetime (public: no secret is in them, and
    the login page needs them before a key is known)."""
    path = locate(name)
    return FileResponse(path, media_type=MEDIA[path.suffix], headers={"Cache-Control": CACHE})
