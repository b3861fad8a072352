"""`redwatch guard policy` and `redwatch guard verify`: a virtual patch from a campaign's
findings, and a replay of the campaign's recorded inputs through a guard running it.

verify exits 0 when every replayed finding is blocked, 1 when some recorded input still
evades, 2 on bad input (as every redwatch command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from redwatch.cli.console import err, open_store, out, parse_shape
from redwatch.config import load_project_config
from redwatch.engine.campaign import ScanOptions, prepare_input
from redwatch.engine.data import load_csv
from redwatch.exceptions import UsageError
from redwatch.findings import Finding
from redwatch.guard.model import GuardedModel
from redwatch.guard.patching import PatchPlan, PatchSettings, plan_patch, write_text_atomic
from redwatch.guard.policy import load_policy
from redwatch.guard.replay import (
    FindingReplay,
    ReplayReport,
    as_model,
    load_cases,
    replay,
    replay_policy,
)
from redwatch.store.repository import Store
from redwatch.targets.loading import load_target
from redwatch.targets.spec import InputSpec

DEFAULT_EVIDENCE = Path("redwatch-report")


def policy(
    from_campaign: str = typer.Option(
        ..., "--from-campaign", help="Campaign id (or a unique prefix) whose findings to answer."
    ),
    db: str | None = typer.Option(None, "--db", help="Store URL (default: REDWATCH_DB_URL)."),
    output: Path | None = typer.Option(
        None, "-o", "--out", help="Policy file to write (default: print it)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="CSV of clean inputs (model columns only): detector reference."
    ),
    no_local_model: bool = typer.Option(
        False, "--no-local-model", help="Leave out detectors that query the model (--upstream)."
    ),
) -> None:
    """Write a guard policy (a virtual patch) that answers a campaign's findings."""
    with open_store(db) as store:
        campaign, findings = campaign_findings(store, from_campaign)
    settings = PatchSettings(local_model=not no_local_model)
    if data is not None:
        settings = PatchSettings(not no_local_model, str(data.resolve()), _data_spec(data))
    plan = plan_patch(findings, campaign["id"], str(campaign.get("target", "")), settings)
    text = plan.render()
    if output is None:
        typer.echo(text, nl=False)
        return
    write_text_atomic(output, text)
    typer.echo(_summary(plan, output, len(findings)))


def verify(
    campaign_id: str = typer.Option(..., "--campaign", help="Campaign id (or unique prefix)."),
    policy_file: Path = typer.Option(..., "--policy", help="Guard policy YAML."),
    model: str = typer.Option(..., "--model", help="The model file the campaign attacked."),
    data: Path = typer.Option(..., "--data", help="CSV of clean inputs (header row)."),
    label: str | None = typer.Option(None, "--label", help="Label column in the CSV."),
    evidence: Path = typer.Option(
        DEFAULT_EVIDENCE, "--evidence", help="The campaign's report folder (the scan's --out)."
    ),
    db: str | None = typer.Option(None, "--db", help="Store URL (default: REDWATCH_DB_URL)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results as JSON."),
    config: Path | None = typer.Option(None, "--config", help="redwatch.yaml"),
    input_shape: str | None = typer.Option(None, "--input-shape", help="e.g. 1,28,28"),
    trust_model: bool = typer.Option(False, "--trust-model", help="Load even if unsafe."),
) -> None:
    """Replay a campaign's recorded adversarial inputs through a guard policy."""
    with open_store(db) as store:
        campaign, findings = campaign_findings(store, campaign_id)
    guard_policy, left_out = replay_policy(load_policy(policy_file))
    project = load_project_config(config)
    target = load_target(model, trust_model=trust_model)
    shape = parse_shape(input_shape) or (
        tuple(project.image_shape) if project.image_shape else None
    )
    options = ScanOptions(
        out_dir=evidence,
        seed=int(campaign.get("config", {}).get("seed", 0)),
        features=project.features,
        image_shape=shape,
        onehot=project.onehot,
        constraints=project.constraints,
        config_source=str(config or "redwatch.yaml"),
    )
    inputs = prepare_input(target, load_csv(data, label or project.label), options)
    spec = target.capabilities.input_spec
    cases, skipped = load_cases(findings, evidence, None if spec is None else spec.n_features)
    if not cases:
        raise UsageError(
            f"campaign {campaign['id'][:12]} has no recorded adversarial inputs to replay "
            f"({len(findings)} finding(s), none with adversarial examples)"
        )
    guarded = GuardedModel(
        as_model(target, inputs.x),
        guard_policy,
        spec,
        reference=inputs.x,
        base_dir=policy_file.resolve().parent,
    ).build()
    report = ReplayReport(replay(guarded, cases), skipped, left_out)
    _print_report(report)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(report.to_dict(), indent=2) + "\n")
    if not report.all_blocked:
        err.print("some recorded adversarial inputs still evade the guard: exit 1")
        raise typer.Exit(1)


def campaign_findings(store: Store, campaign_id: str) -> tuple[dict[str, Any], list[Finding]]:
    """The campaign's header (id, target, config) and its findings; UsageError when the id
    matches nothing or the campaign has no findings."""
    doc = store.get_campaign(campaign_id)
    if doc is None:
        raise UsageError(f"no campaign matches id {campaign_id!r} in {store.url}")
    header = dict(doc.get("campaign", {}))
    findings = [Finding.from_dict(f) for f in doc.get("findings", [])]
    if not findings:
        status = doc.get("status", "unknown")
        raise UsageError(
            f"campaign {header.get('id', campaign_id)} ({status}) has no findings: nothing to do"
        )
    return header, findings


def _data_spec(data: Path) -> InputSpec:
    """The InputSpec of the reference CSV (its ranges show the squeeze step in units)."""
    dataset = load_csv(data)
    return InputSpec.from_data(dataset.x, dataset.feature_names)


def _summary(plan: PatchPlan, output: Path, n_findings: int) -> str:
    """One line after writing the policy file."""
    names = ", ".join(entry["name"] for entry in plan.stages)
    return (
        f"wrote {output}: stages {names}; answers {len(plan.answered())} of {n_findings} "
        f"finding(s), {len(plan.unanswered)} not answerable by a guard"
    )


def _print_report(report: ReplayReport) -> None:
    """The per-finding table, then what was not replayed and what was left out."""
    table = Table(
        box=box.SIMPLE_HEAD,
        title="recorded inputs replayed through the guard",
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("finding", no_wrap=True)
    table.add_column("probe", no_wrap=True)
    for col in ("inputs", "blocked", "restored", "evading", "clean"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    table.add_column("verdict", no_wrap=True)
    for result in report.results:
        table.add_row(*_row(result))
    out.print(table)
    for ref, why in report.not_replayed:
        out.print(f"not replayed: {ref.fingerprint[:8]} {ref.probe}: {why}", markup=False)
    if report.left_out:
        out.print(
            f"left out of the replay: {', '.join(report.left_out)} (they judge who calls "
            "and how often, not the input)",
            markup=False,
        )
    blocked = sum(r.is_blocked for r in report.results)
    out.print(
        f"{blocked} of {len(report.results)} replayed finding(s) blocked "
        "(recorded inputs, not an adaptive attack)",
        markup=False,
    )


def _row(result: FindingReplay) -> list[str]:
    """One table row; `clean`: clean originals the guard blocked or relabelled."""
    clean = "–"
    if result.clean_inputs:
        clean = f"{result.clean_blocked + result.clean_changed}/{result.clean_inputs}"
    verdict = "[green]blocked[/]" if result.is_blocked else "[red]open[/]"
    return [
        result.finding.fingerprint[:8],
        result.finding.probe,
        str(result.inputs),
        str(result.blocked),
        str(result.restored),
        str(result.evading),
        clean,
        verdict,
    ]
