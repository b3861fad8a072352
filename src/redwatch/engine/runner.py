"""Runner: executes a planned campaign against one target, records it in the store in one
transaction (or marks it failed), saves evidence and writes the requested reports."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from redwatch import __version__
from redwatch.engine.commands import fill_commands
from redwatch.engine.diff import diff_findings
from redwatch.engine.evidence import remove_evidence, save_evidence
from redwatch.engine.executors import (
    Executor,
    LocalExecutor,
    ProbeOutcome,
    ProgressFactory,
    run_probe_job,
)
from redwatch.engine.planner import Plan
from redwatch.exceptions import StoreError, first_line
from redwatch.findings import Finding
from redwatch.registry import get as get_plugin
from redwatch.results import CampaignResult, ProbeRun
from redwatch.store.repository import Store
from redwatch.targets.base import Target

__all__ = [
    "CampaignInput",
    "CampaignRunner",
    "Executor",
    "LocalExecutor",
    "ProbeOutcome",
    "ProgressFactory",
    "run_probe_job",
]


@dataclass
class CampaignInput:
    """Evaluation data for a campaign: features in model units and true class indices."""

    x: np.ndarray
    y: np.ndarray
    labels_from_model: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    artifact: Path | None = None  # the model file, for probes that inspect the artifact
    sensitive: dict[str, np.ndarray] = field(default_factory=dict)  # row-aligned with x


class CampaignRunner:
    """Runs one campaign. `progress` creates a progress callback per probe (rich bar in the
    CLI, silent in tests)."""

    def __init__(
        self,
        store: Store,
        out_dir: Path,
        *,
        seed: int = 0,
        formats: Iterable[str] = ("json", "html"),
        progress: ProgressFactory | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.store = store
        self.out_dir = out_dir
        self.seed = seed
        self.formats = tuple(formats)
        self.progress = progress
        self.executor = executor or LocalExecutor()

    def run(self, target: Target, kind: str, data: CampaignInput, plan: Plan) -> CampaignResult:
        """Run the plan; the store gets the whole campaign or a failed marker, never half."""
        started = _now()
        campaign_id = self.store.start_campaign(target.name, kind, data.config)
        try:
            outcomes = self.executor.run(target, data, plan.probes, self.seed, self.progress)
            runs, findings = self._collect(target, outcomes)
            fill_commands(findings, data.config)
            result = self._result(
                campaign_id, target, kind, data, started, runs + plan.skipped, findings
            )
            result.findings = save_evidence(result.findings, self.out_dir)
            try:
                self.store.complete_campaign(result)
            except StoreError:
                remove_evidence(self.out_dir, result.findings)
                raise
        except BaseException as exc:
            if not isinstance(exc, StoreError):
                self.store.fail_campaign(campaign_id, first_line(exc))
            raise
        result.report_paths = {
            fmt: str(path)
            for fmt, path in zip(self.formats, self.write_reports(result), strict=True)
        }
        return result

    def write_reports(self, result: CampaignResult) -> list[Path]:
        """Render each format and write it atomically (temp file, then rename)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for fmt in self.formats:
            reporter = get_plugin("redwatch.reporters", fmt)()
            text = reporter.render(result)
            path = self.out_dir / f"report{reporter.extension}"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            written.append(path)
        return written

    def _collect(
        self, target: Target, outcomes: list[ProbeOutcome]
    ) -> tuple[list[ProbeRun], list[Finding]]:
        """Records and findings in plan order. Remote jobs queried copies of the target, so
        their own counts are added to the driver's counter to read as after a local run."""
        if not self.executor.in_process:
            target.queries += sum(o.run.queries for o in outcomes)
        return [o.run for o in outcomes], [f for o in outcomes for f in o.findings]

    def _result(
        self,
        campaign_id: str,
        target: Target,
        kind: str,
        data: CampaignInput,
        started: str,
        runs: list[ProbeRun],
        findings: list[Finding],
    ) -> CampaignResult:
        statuses, fixed_fps = diff_findings(findings, self.store.history(target.name))
        previous = {f["fingerprint"]: f for f in self.store.list_findings(target=target.name)}
        fixed = [
            {
                "fingerprint": fp,
                "title": str(previous.get(fp, {}).get("title", "")),
                "probe": str(previous.get(fp, {}).get("probe", "")),
            }
            for fp in fixed_fps
        ]
        return CampaignResult(
            id=campaign_id,
            target=target.name,
            target_kind=kind,
            started_at=started,
            finished_at=_now(),
            status="completed",
            probes=runs,
            findings=findings,
            diff=statuses,
            fixed=fixed,
            config=data.config,
            redwatch_version=__version__,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
