"""Replay a campaign's recorded evidence through a guard: for every evasion finding, send
each recorded adversarial input (and its clean original) through a GuardedModel one row
at a time and count which the guard blocks, which it brings back to the original label,
and which still evade.

This is a regression check of a virtual patch, not an adaptive attack: an attacker who
knows the guard would search for inputs that pass it (docs/guard-patching.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redwatch.exceptions import DataError
from redwatch.findings import Finding
from redwatch.guard.model import GuardedModel
from redwatch.guard.patching import FindingRef
from redwatch.guard.policy import Policy
from redwatch.guard.stage import GuardBlocked
from redwatch.targets.base import Target

# Stages that judge who calls and how often rather than what is sent; replaying recorded
# rows from one client through them would measure the replay, not the patch.
CLIENT_STAGES = ("auth", "ratelimit", "extraction", "watermark")
REPLAYABLE_KIND = "adversarial_examples"
REPLAY_CLIENT = "replay"


@dataclass(frozen=True)
class ReplayCase:
    """One finding's recorded inputs: adversarial rows, their originals (when recorded) and
    the true labels as class indices."""

    finding: FindingRef
    x_adv: np.ndarray
    y: np.ndarray
    x: np.ndarray | None = None


@dataclass
class FindingReplay:
    """What the guard did with one finding's inputs. `restored`: guarded label is the
    original one again; `evading`: still a wrong label; `clean_*`: the same for the clean
    originals (false alarms and labels the guard changed)."""

    finding: FindingRef
    inputs: int = 0
    blocked: int = 0
    restored: int = 0
    evading: int = 0
    blocked_by: dict[str, int] = field(default_factory=dict)
    clean_inputs: int = 0
    clean_blocked: int = 0
    clean_changed: int = 0

    @property
    def is_blocked(self) -> bool:
        """True when no recorded adversarial input still evades."""
        return self.evading == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            **self.finding.to_dict(),
            "verdict": "blocked" if self.is_blocked else "open",
            "inputs": self.inputs,
            "blocked": self.blocked,
            "restored": self.restored,
            "evading": self.evading,
            "blocked_by": dict(sorted(self.blocked_by.items())),
            "clean_inputs": self.clean_inputs,
            "clean_blocked": self.clean_blocked,
            "clean_changed": self.clean_changed,
        }


@dataclass
class ReplayReport:
    """Every replayed finding, those that could not be replayed (and why), and the policy
    stages left out of the replay."""

    results: list[FindingReplay] = field(default_factory=list)
    not_replayed: list[tuple[FindingRef, str]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    @property
    def all_blocked(self) -> bool:
        """True when there was something to replay and every replayed finding is blocked."""
        return bool(self.results) and all(r.is_blocked for r in self.results)

    def totals(self) -> dict[str, int]:
        """Sums over the replayed findings."""
        keys = ("inputs", "blocked", "restored", "evading", "clean_inputs", "clean_blocked")
        return {k: sum(int(getattr(r, k)) for r in self.results) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the verify command's --json document)."""
        return {
            "all_blocked": self.all_blocked,
            "findings_blocked": sum(r.is_blocked for r in self.results),
            "findings_replayed": len(self.results),
            "totals": self.totals(),
            "results": [r.to_dict() for r in self.results],
            "not_replayed": [{**ref.to_dict(), "why": why} for ref, why in self.not_replayed],
            "left_out_stages": list(self.left_out),
            "note": "recorded inputs replayed as they were; not an adaptive attack",
        }


def replay_policy(policy: Policy) -> tuple[Policy, list[str]]:
    """The policy without the client-history stages (CLIENT_STAGES), and their names."""
    kept = [entry for entry in policy.stages if entry.name not in CLIENT_STAGES]
    dropped = [entry.name for entry in policy.stages if entry.name in CLIENT_STAGES]
    return policy.model_copy(update={"stages": kept}), dropped


def load_cases(
    findings: Iterable[Finding], evidence_dir: Path, n_features: int | None = None
) -> tuple[list[ReplayCase], list[tuple[FindingRef, str]]]:
    """Read each finding's recorded adversarial examples from the campaign's report folder.

    Findings without such evidence are returned with the reason; a recorded file that is
    missing or unreadable is a DataError (the folder is probably the wrong one)."""
    cases: list[ReplayCase] = []
    skipped: list[tuple[FindingRef, str]] = []
    for finding in findings:
        ref = FindingRef.of(finding)
        paths = [e.path for e in finding.evidence if e.kind == REPLAYABLE_KIND and e.path]
        if not paths:
            skipped.append((ref, _why_not_replayable(finding)))
            continue
        arrays = [_read_evidence(evidence_dir, p, n_features) for p in paths]
        cases.append(
            ReplayCase(
                ref,
                np.concatenate([a["x_adv"] for a in arrays]),
                np.concatenate([a["y"] for a in arrays]),
                None
                if any("x" not in a for a in arrays)
                else np.concatenate([a["x"] for a in arrays]),
            )
        )
    return cases, skipped


def _why_not_replayable(finding: Finding) -> str:
    """Why a finding has nothing to replay."""
    if str(finding.category) != "evasion":
        return f"{finding.category} findings record no inputs that a replay could send"
    kinds = ", ".join(sorted({e.kind for e in finding.evidence})) or "none"
    return f"no recorded adversarial examples (evidence: {kinds})"


def _read_evidence(folder: Path, rel: str, n_features: int | None) -> dict[str, np.ndarray]:
    """x_adv, y (and x when present) from one evidence file under `folder`; DataError with
    one line naming the file for anything missing, unreadable or of the wrong shape."""
    root = folder.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise DataError(f"evidence path {rel!r} points outside {folder}")
    if not path.is_file():
        raise DataError(
            f"evidence file {path} not found; pass --evidence the campaign's report folder "
            "(the scan's --out)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in ("x", "x_adv", "y") if k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read evidence file {path}: {exc}") from None
    return _checked_evidence(arrays, path, n_features)


def _checked_evidence(
    arrays: dict[str, np.ndarray], path: Path, n_features: int | None
) -> dict[str, np.ndarray]:
    """Shapes agree: x_adv (n, d) finite, y (n,), x like x_adv; d is the model's width."""
    if "x_adv" not in arrays or "y" not in arrays:
        raise DataError(f"evidence file {path} lacks x_adv or y")
    x_adv = np.asarray(arrays["x_adv"], dtype=np.float64)
    x_adv = x_adv.reshape(len(x_adv), -1)
    y = np.asarray(arrays["y"]).reshape(-1).astype(np.int64)
    if len(y) != len(x_adv) or not np.isfinite(x_adv).all():
        raise DataError(f"evidence file {path}: x_adv and y disagree or hold NaN/Inf")
    if n_features is not None and x_adv.shape[1] != n_features:
        raise DataError(
            f"evidence file {path} has rows of {x_adv.shape[1]} features, "
            f"the model expects {n_features}"
        )
    out = {"x_adv": x_adv, "y": y}
    if "x" in arrays:
        x = np.asarray(arrays["x"], dtype=np.float64).reshape(len(x_adv), -1)
        if x.shape == x_adv.shape:
            out["x"] = x
    return out


def replay(guarded: GuardedModel, cases: Sequence[ReplayCase]) -> list[FindingReplay]:
    """Send every case's rows through the guard one at a time (a block refuses a whole
    call, so batching would let one row decide for others)."""
    return [_replay_case(guarded, case) for case in cases]


def _replay_case(guarded: GuardedModel, case: ReplayCase) -> FindingReplay:
    """Counts for one finding."""
    result = FindingReplay(case.finding)
    stages: Counter[str] = Counter()
    for row, label in zip(case.x_adv, case.y, strict=True):
        outcome = _guarded_label(guarded, row)
        result.inputs += 1
        if isinstance(outcome, str):
            result.blocked += 1
            stages[outcome] += 1
        elif outcome == int(label):
            result.restored += 1
        else:
            result.evading += 1
    result.blocked_by = dict(stages)
    if case.x is not None:
        for row, label in zip(case.x, case.y, strict=True):
            outcome = _guarded_label(guarded, row)
            result.clean_inputs += 1
            result.clean_blocked += isinstance(outcome, str)
            result.clean_changed += not isinstance(outcome, str) and outcome != int(label)
    return result


def _guarded_label(guarded: GuardedModel, row: np.ndarray) -> int | str:
    """The guarded label of one row as a class index, or the name of the blocking stage."""
    try:
        labels = guarded.predict(row[None, :], client=REPLAY_CLIENT)
    except GuardBlocked as exc:
        return exc.stage
    return int(np.asarray(labels).reshape(-1)[0])


class TargetModel:
    """A loaded Target seen through the scikit-learn API that GuardedModel expects: labels
    are class indices (as in recorded evidence), `classes_` is 0..K-1."""

    def __init__(self, target: Target, n_classes: int) -> None:
        self.target = target
        self.classes_ = np.arange(n_classes)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices."""
        return self.target.predict(np.asarray(x, dtype=np.float64))


class ScoringTargetModel(TargetModel):
    """A TargetModel whose target exposes scores, so detectors may query probabilities."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities."""
        return self.target.predict_proba(np.asarray(x, dtype=np.float64))


def as_model(target: Target, rows: np.ndarray) -> TargetModel:
    """Wrap a target; the class count comes from its classes or from scoring `rows`."""
    if target.capabilities.scores:
        n_classes = int(target.predict_proba(rows[:1]).shape[1])
        return ScoringTargetModel(target, n_classes)
    known = target.classes
    n_classes = len(known) if known is not None else int(target.predict(rows).max()) + 1
    return TargetModel(target, n_classes)
