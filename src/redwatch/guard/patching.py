"""Virtual patching: turn a campaign's findings into a guard policy that answers them.

Each finding category maps to the stages that can blunt it at runtime (docs/guard-patching.md
has the table and the reasons): evasion -> input squeezing and calibrated detectors,
extraction -> labels only plus the extraction monitor, privacy -> coarser scores. Findings
that live in the artifact or the data (integrity, poisoning, supply chain) have no runtime
answer and are listed as such, never silently dropped.
"""

from __future__ import annotations

import math
import os
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from redwatch.findings import Category, Finding, Severity
from redwatch.guard.policy import Policy, parse_policy
from redwatch.targets.spec import InputSpec

MIN_BITS = 2
MAX_BITS = 10
DETECT_FPR = 0.01
DETECT_SQUEEZE_BITS = 5  # the squeeze detector's grid when no L∞ finding sets one
PRIVACY_DECIMALS = 2
DEFAULT_DECIMALS = 4
TITLE_CHARS = 72
HEADER_WIDTH = 98

VALIDATE_OPTIONS: dict[str, Any] = {
    "max_payload_bytes": 1_048_576,
    "max_rows": 10_000,
    "spec_check": "event",
}
NO_GUARD_ANSWER: dict[str, str] = {
    Category.INTEGRITY.value: (
        "a guard cannot fix a tampered or poisoned artifact: replace the file with a "
        "verified one (redwatch integrity verify) and rescan"
    ),
    Category.POISONING.value: (
        "a guard cannot remove what poisoned training data taught the model: clean the "
        "data and retrain"
    ),
    Category.SUPPLY_CHAIN.value: (
        "a guard cannot fix a dependency or artifact source: pin and verify it"
    ),
}
LOCAL_MODEL_NOTE = (
    "every detector but mahalanobis queries the model a second time, so it needs a local "
    "model (in-process GuardedModel, middleware with a model, or the proxy with --model); "
    "for a proxy in front of --upstream regenerate with --no-local-model"
)
EXTRACTION_NOTE = (
    "PRADA-style monitor of each client's (and pooled) query distances; it records events "
    "(action: event). Set action: block once its false alarms are known."
)


AUTH_HINT = (
    "To require API keys, add an auth stage first: "
    "`redwatch guard keygen ID --role scores --policy THIS_FILE` creates the key and the stage."
)


@dataclass(frozen=True)
class FindingRef:
    """What a policy header and a replay table say about a finding."""

    fingerprint: str
    probe: str
    category: str
    severity: str
    title: str

    @classmethod
    def of(cls, finding: Finding) -> FindingRef:
        """The reference to a finding."""
        return cls(
            finding.fingerprint,
            finding.probe,
            str(finding.category),
            finding.severity.label,
            finding.title,
        )

    def label(self) -> str:
        """One short line: fingerprint prefix, severity, probe and (cut) title."""
        title = " ".join(self.title.split())
        if len(title) > TITLE_CHARS:
            title = title[: TITLE_CHARS - 1] + "…"
        return f"{self.fingerprint[:8]} {self.severity} {self.probe}: {title}"

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {
            "fingerprint": self.fingerprint,
            "probe": self.probe,
            "category": self.category,
            "severity": self.severity,
            "title": self.title,
        }


@dataclass(frozen=True)
class PatchSettings:
    """What the deployment offers: a local model (for model-querying detectors), clean
    reference rows as a file for the detectors (None: the deployment's own), and the
    InputSpec of that data (only used to show the squeeze step in feature units)."""

    local_model: bool = True
    reference: str | None = None
    spec: InputSpec | None = None


@dataclass
class PatchPlan:
    """The generated policy, which stage answers which finding and why, and the findings
    that no stage answers (with the reason)."""

    campaign: str
    target: str
    stages: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, list[FindingRef]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    unanswered: list[tuple[FindingRef, str]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The policy as a plain mapping (what the YAML body holds)."""
        return {"version": 1, "stages": [dict(entry) for entry in self.stages]}

    def policy(self) -> Policy:
        """The validated Policy (the same check load_policy runs on the file)."""
        return parse_policy(self.document(), f"policy for campaign {self.campaign}")

    def answered(self) -> set[str]:
        """Fingerprints of the findings that at least one stage answers."""
        return {ref.fingerprint for refs in self.answers.values() for ref in refs}

    def render(self) -> str:
        """Comment header (campaign, per stage the findings it answers, what is not
        answered) followed by the policy as strict YAML."""
        self.policy()  # never render a policy load_policy would refuse
        body = yaml.safe_dump(self.document(), sort_keys=False, allow_unicode=True, width=100)
        return "\n".join(self._header()) + "\n" + body

    def _header(self) -> list[str]:
        """The comment lines above the policy, wrapped to HEADER_WIDTH."""
        lines: list[tuple[str, str]] = [
            (
                "",
                f"Guard policy generated by redwatch from campaign {self.campaign} "
                f"(target {self.target}).",
            ),
            (
                "",
                f"`redwatch guard verify --campaign {self.campaign[:12]} --policy THIS_FILE "
                "...` replays the campaign's recorded inputs through it.",
            ),
            ("", ""),
        ]
        for entry in self.stages:
            refs = self.answers.get(entry["name"], [])
            what = f"answers {len(refs)} finding(s)" if refs else "baseline"
            lines.append(("", f"stage {entry['name']}: {what}"))
            lines.extend(("  ", f"- {ref.label()}") for ref in refs)
            lines.extend(("  ", f"note: {note}") for note in self.notes.get(entry["name"], []))
        if self.unanswered:
            lines.append(("", "not answered by any stage:"))
            for ref, why in self.unanswered:
                lines.append(("  ", f"- {ref.label()}"))
                lines.append(("    ", f"why: {why}"))
        lines.extend([("", ""), ("", AUTH_HINT)])
        return [row for indent, text in lines for row in _comment(indent, text)]


def _comment(indent: str, text: str) -> list[str]:
    """`text` as YAML comment lines (one line of text never becomes two of YAML)."""
    words = " ".join(text.split())
    if not words:
        return ["#"]
    rows = textwrap.wrap(words, HEADER_WIDTH - 2 - len(indent), break_on_hyphens=False)
    return [f"# {indent}{row}" if i == 0 else f"# {indent}  {row}" for i, row in enumerate(rows)]


def squeeze_bits_for(epsilon: float) -> int:
    """Bits of feature squeezing for perturbations of `epsilon` (a fraction of each feature's
    range): the finest grid whose step, 1 / (2**k - 1) of the range, is at least 2·epsilon,
    kept within [MIN_BITS, MAX_BITS]. A step twice the perturbation means a perturbed value
    leaves its grid cell only when the clean value sat within epsilon of a cell edge."""
    if not math.isfinite(epsilon) or epsilon <= 0:
        return MAX_BITS
    bits = math.floor(math.log2(1.0 + 1.0 / (2.0 * epsilon)))
    return max(MIN_BITS, min(MAX_BITS, bits))


def linf_epsilon(finding: Finding) -> float | None:
    """The per-feature bound a finding was measured at (a fraction of each feature's range),
    which a squeezing grid can absorb: `epsilon` of an L∞ (or norm-less, e.g. noise) sweep.
    None for L2 findings (their change can pile up on a few features), for single-feature
    sensitivity and for attacks without a bound (patches)."""
    value = finding.metrics.get("epsilon")
    if finding.metrics.get("norm", "inf") != "inf" or isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1:
        return float(value)
    return None


def plan_patch(
    findings: Sequence[Finding],
    campaign: str,
    target: str,
    settings: PatchSettings | None = None,
) -> PatchPlan:
    """The policy that answers `findings` (validate, extraction, detect, sanitize, output,
    in request order; a stage only when something calls for it, validate, sanitize and
    output always)."""
    settings = settings or PatchSettings()
    plan = PatchPlan(campaign, target)
    by_category: dict[str, list[Finding]] = {}
    for finding in findings:
        by_category.setdefault(str(finding.category), []).append(finding)
    evasion = by_category.pop(Category.EVASION.value, [])
    extraction = by_category.pop(Category.EXTRACTION.value, [])
    privacy = by_category.pop(Category.PRIVACY.value, [])
    _add(plan, "validate", dict(VALIDATE_OPTIONS), [], [])
    if extraction:
        _add(plan, "extraction", {"action": "event"}, extraction, [EXTRACTION_NOTE])
    _add_evasion(plan, evasion, settings)
    _add_output(plan, extraction, privacy)
    for category, rest in sorted(by_category.items()):
        why = NO_GUARD_ANSWER.get(category, f"no guard stage answers {category} findings yet")
        plan.unanswered.extend((FindingRef.of(f), why) for f in rest)
    return plan


def _add(
    plan: PatchPlan,
    name: str,
    options: dict[str, Any],
    answers: Sequence[Finding],
    notes: Sequence[str],
) -> None:
    """Append one stage with the findings it answers and its notes."""
    plan.stages.append({"name": name, "options": options})
    if answers:
        plan.answers[name] = [FindingRef.of(f) for f in answers]
    if notes:
        plan.notes[name] = list(notes)


def _add_evasion(plan: PatchPlan, evasion: Sequence[Finding], settings: PatchSettings) -> None:
    """detect (before sanitize, so that it sees the raw input) and sanitize (always; with
    squeezing when an evasion finding gives a perturbation size)."""
    sized = [(f, eps) for f in evasion if (eps := linf_epsilon(f)) is not None]
    bits = squeeze_bits_for(max(eps for _, eps in sized)) if sized else None
    if evasion:
        detectors, notes = _detectors(evasion, bits, settings)
        options = {
            "detectors": detectors,
            "fpr": DETECT_FPR,
            "reference": settings.reference,
            "action": "block",
        }
        _add(plan, "detect", options, evasion, notes)
    sanitize: dict[str, Any] = {"clip": True, "round_integers": True, "snap_categories": True}
    notes = []
    if bits is not None:
        sanitize["squeeze_bits"] = bits
        notes.append(_squeeze_note(bits, max(eps for _, eps in sized), settings.spec))
    _add(plan, "sanitize", sanitize, [f for f, _ in sized], notes)


def _detectors(
    evasion: Sequence[Finding], bits: int | None, settings: PatchSettings
) -> tuple[list[Any], list[str]]:
    """Mahalanobis always (it needs only clean rows); squeezing disagreement (at the
    sanitize bits, else DETECT_SQUEEZE_BITS), and STRIP for patch attacks on images, when
    the model is local."""
    detectors: list[Any] = ["mahalanobis"]
    notes = [
        f"calibrated to a {DETECT_FPR:.0%} false-positive rate on clean reference rows "
        f"({'the deployment reference' if settings.reference is None else settings.reference})"
    ]
    patch = any(f.probe.endswith(".patch") for f in evasion)
    if not settings.local_model:
        notes.append("no local model: only the Mahalanobis detector (it needs no model)")
        return detectors, notes
    detectors.append({"method": "squeeze", "bits": bits or DETECT_SQUEEZE_BITS})
    if patch:
        detectors.append("strip")
    notes.append(LOCAL_MODEL_NOTE)
    return detectors, notes


def _squeeze_note(bits: int, epsilon: float, spec: InputSpec | None) -> str:
    """Why these bits, and what the step is in the data's own units when known."""
    levels = 2**bits - 1
    text = (
        f"squeeze_bits {bits} from the largest L∞ evasion epsilon {epsilon:g} (fraction of each "
        f"feature's range): grid step 1/{levels} = {1 / levels:.3g} of the range, the finest "
        f"step >= 2 x epsilon (kept within {MIN_BITS}..{MAX_BITS} bits)"
    )
    if spec is None:
        return text
    ranges = np.asarray(spec.upper - spec.lower, dtype=np.float64)[:4]
    shown = ", ".join(
        f"{name} {span / levels:.4g}" if span > 0 else f"{name} constant"
        for name, span in zip(spec.feature_names[:4], ranges, strict=False)
    )
    more = f" and {spec.n_features - 4} more" if spec.n_features > 4 else ""
    return f"{text}; step in the data's units: {shown}{more}"


def _add_output(plan: PatchPlan, extraction: Sequence[Finding], privacy: Sequence[Finding]) -> None:
    """output: label-only for extraction and severe privacy findings, 2 decimals for the
    other privacy findings, the default 4 decimals otherwise."""
    severe = [f for f in privacy if f.severity >= Severity.HIGH]
    options: dict[str, Any] = {"decimals": PRIVACY_DECIMALS if privacy else DEFAULT_DECIMALS}
    notes = []
    if extraction or severe:
        options["label_only"] = True
        notes.append(
            "label_only: scores are what an extraction or a strong membership attack feeds "
            "on; clients get the top label as a one-hot row"
        )
    if privacy and not severe:
        notes.append("scores rounded to 2 decimals: membership signals live in small gaps")
    _add(plan, "output", options, [*extraction, *privacy], notes)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename, so
    that readers see the old file or the new one, never half of one."""
    folder = path.parent if str(path.parent) else Path(".")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
