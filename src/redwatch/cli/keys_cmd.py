"""`redwatch keys create / list / revoke`: the service's API keys, straight in the store.
This is how the first admin key is made; every change lands in the audit log as "cli"."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from redwatch.cli.console import open_store, out
from redwatch.exceptions import UsageError

app = typer.Typer(help="API keys of the service (redwatch serve).", no_args_is_help=True)

DB_HELP = "Store URL (default: REDWATCH_DB_URL, else the SQLite file under REDWATCH_HOME)."


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what the key is for."),
    role: str = typer.Option(..., "--role", help="viewer, analyst or admin."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON (with the key) instead of text."),
) -> None:
    """Create a key; it is printed now and never again (only its hash is stored)."""
    from redwatch.service.audit_log import audited
    from redwatch.service.keys import CLI, check_role, create_key

    check_role(role)
    with open_store(db) as store:
        document, secret = create_key(store, name, role, created_by=CLI.actor)
        audited(store, CLI, "keys.create", document["id"], {"name": document["name"], "role": role})
    if as_json:
        out.print_json(json.dumps({**document, "key": secret}))
        return
    out.print(f"created {role} key {document['id'][:8]} for {document['name']!r}:")
    out.print(secret)
    out.print("store it now: it is not shown again.")


@app.command("list")
def list_keys(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Every key, newest first (never a secret)."""
    from redwatch.service.keys import list_keys as listed

    with open_store(db) as store:
        rows = listed(store)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} key(s)")
    for column in ("id", "name", "role", "prefix", "created", "by", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"])[:8],
            str(row["name"]),
            str(row["role"]),
            str(row["prefix"]),
            str(row["created_at"])[:19].replace("T", " "),
            str(row["created_by"] or ""),
            str(row["revoked_at"] or "")[:19].replace("T", " "),
        )
    out.print(table)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (or a unique prefix of 8+ characters)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Revoke a key at once: the service answers 401 to it from now on."""
    from redwatch.service.audit_log import audited
    from redwatch.service.keys import CLI, revoke_key

    with open_store(db) as store:
        document = revoke_key(store, key_id)
        if document is None:
            raise UsageError(f"no API key {key_id}")
        audited(store, CLI, "keys.revoke", document["id"], {"name": document["name"]})
    out.print(f"revoked key {document['id'][:8]} ({document['name']})")
