"""`redwatch probes list`: every registered probe with what it needs and cites."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from redwatch.cli.console import out
from redwatch.engine.planner import available_probes

app = typer.Typer(help="List the red-team probes.", no_args_is_help=True)


@app.command("list")
def list_probes(as_json: bool = typer.Option(False, "--json")) -> None:
    """Show each probe: name, required capabilities, cost, whether it runs by default, what
    it does (references and category in --json)."""
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "category": str(cls.category),
            "requires": sorted(cls.requires),
            "cost": cls.cost,
            "default": cls.default,
            "references": list(cls.references),
            "description": cls.description,
        }
        for name, cls in available_probes().items()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title="probes (opt-in ones run only when named with --probe)")
    table.add_column("name", no_wrap=True)
    table.add_column("requires")
    table.add_column("cost", justify="right")
    table.add_column("runs", no_wrap=True)
    table.add_column("description")
    for r in rows:
        table.add_row(
            r["name"],
            ", ".join(r["requires"]),
            str(r["cost"]),
            "default" if r["default"] else "opt-in",
            r["description"],
        )
    out.print(table)
