"""`redwatch guard keygen`: a new API key for the guard's auth stage.

The key is printed once, on stdout, and never stored; the policy only ever holds its salted
scrypt hash. With --policy the entry goes straight into that policy's auth stage (created
first in the request order when missing), rewritten atomically; without it the entry is
printed as YAML to paste."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError

from redwatch.cli.console import err
from redwatch.config import first_error, read_yaml
from redwatch.exceptions import UsageError
from redwatch.guard.keys import generate_api_key
from redwatch.guard.patching import write_text_atomic
from redwatch.guard.policy import parse_policy
from redwatch.guard.stages.auth import DEFAULT_ROLES, AuthOptions

_QUOTA = re.compile(r"^\s*(\d+)\s*/\s*(hour|day)\s*$")


def keygen(
    ident: str = typer.Argument(..., help="Key id: letters, digits, _ and - (names the entry)."),
    role: str = typer.Option("scores", "--role", help="labels (predict) or scores (+ proba)."),
    quota: str | None = typer.Option(None, "--quota", help="N/hour or N/day."),
    policy_file: Path | None = typer.Option(
        None, "--policy", help="Add the entry to this policy's auth stage in place."
    ),
) -> None:
    """Create an API key: print it once, and its policy entry (or add it with --policy)."""
    limits = parse_quota(quota)
    if policy_file is None:
        _known_role(role, DEFAULT_ROLES, "the default roles")
        key, entry = generate_api_key(ident, role, quota=limits)
        typer.echo(key)
        typer.echo("# auth stage entry (the key above is not stored anywhere):")
        typer.echo(yaml.safe_dump([entry], sort_keys=False), nl=False)
        err.print("hand the key to its owner now: it is shown once and cannot be recovered")
        return
    document = read_yaml(policy_file)
    parse_policy(document, str(policy_file))
    auth, created = _auth_options(document)
    _known_role(role, auth.get("roles", DEFAULT_ROLES), f"{policy_file}'s auth roles")
    if any(isinstance(k, dict) and k.get("id") == ident for k in auth.get("keys", [])):
        raise UsageError(f"{policy_file}: key id {ident!r} is already in the auth stage")
    key, entry = generate_api_key(ident, role, quota=limits)
    auth.setdefault("keys", []).append(entry)
    _check_auth(auth, policy_file)
    parse_policy(document, str(policy_file))
    write_text_atomic(policy_file, _leading_comments(policy_file) + _dump(document))
    typer.echo(key)
    where = "a new auth stage (first)" if created else "its auth stage"
    err.print(f"added key {ident} ({role}) to {where} in {policy_file}; the key is shown once")


def parse_quota(text: str | None) -> dict[str, Any] | None:
    """--quota "1000/day" as the policy's {requests, per}; UsageError on anything else."""
    if text is None:
        return None
    match = _QUOTA.match(text)
    if match is None or int(match.group(1)) < 1:
        raise UsageError(f"--quota must look like 1000/hour or 5000/day, got {text!r}")
    return {"requests": int(match.group(1)), "per": match.group(2)}


def _known_role(role: str, roles: Any, where: str) -> None:
    """UsageError when the role is not one the auth stage will accept."""
    if not isinstance(roles, dict) or role not in roles:
        known = ", ".join(sorted(roles)) if isinstance(roles, dict) else "none"
        raise UsageError(f"--role {role!r} is not in {where} ({known})")


def _auth_options(document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The auth stage's options mapping inside `document` (inserted as the first stage when
    there is none), and whether it was created."""
    stages = document.setdefault("stages", [])
    for entry in stages:
        if entry.get("name") == "auth":
            if entry.get("options") is None:
                entry["options"] = {}
            options: dict[str, Any] = entry["options"]
            return options, False
    created: dict[str, Any] = {}
    stages.insert(0, {"name": "auth", "options": created})
    return created, True


def _check_auth(options: dict[str, Any], source: Path) -> None:
    """The auth options still validate (e.g. the role exists), one line otherwise."""
    try:
        AuthOptions.model_validate(options)
    except ValidationError as exc:
        raise UsageError(f"{source}: stage auth: {first_error(exc)}") from None


def _leading_comments(path: Path) -> str:
    """The comment block at the top of the file (a generated policy's header), kept when
    the file is rewritten; comments further down are not preserved."""
    kept: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or (not line.strip() and kept):
            kept.append(line)
            continue
        break
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


def _dump(document: dict[str, Any]) -> str:
    """The policy as YAML, keys in their written order."""
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
