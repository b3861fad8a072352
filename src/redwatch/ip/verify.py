"""Trigger-set ownership verification: rebuild the secret triggers from the key, check them
against the signed commitment, ask the suspect for their labels (metered, through its
Target), and test its agreement against the null rate of models that never saw the secret.

The null rate comes from the reference models measured at embed time (in the commitment)
plus any reference targets the verifier adds now; the result is a signed certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.exceptions import DataError, RedwatchError, TargetError
from redwatch.guard.watermark_record import plain_label
from redwatch.ip.certificate import build_certificate, describe_suspect
from redwatch.ip.commitment import check_commitment, committed_null, open_triggers
from redwatch.ip.signed import canonical_json, sha256_hex
from redwatch.ip.stats import (
    NullEstimate,
    OwnershipTest,
    ReferenceAgreement,
    estimate_null,
    ownership_test,
)
from redwatch.ip.triggers import TriggerSet
from redwatch.targets.base import Target

METHOD = "trigger-set"


@dataclass(frozen=True)
class Verification:
    """One verification: the binomial test, the signed certificate, the reference models
    measured now (on top of the committed ones) and the queries the suspect answered."""

    test: OwnershipTest
    certificate: dict[str, Any]
    added_references: tuple[ReferenceAgreement, ...]
    queries: int

    @property
    def shown(self) -> bool:
        """True when the agreement is significant at the test's alpha."""
        return self.test.shown

    def summary(self) -> str:
        """One line: agreement, null rate, p-value and verdict."""
        t = self.test
        refs = len(t.null.references)
        source = f"{t.null.method}, {refs} reference models" if refs else t.null.method
        return (
            f"agreement {t.agreed}/{t.trials} ({t.agreement:.1%}), null rate "
            f"{t.null.rate:.4g} ({source}), p-value {t.p_value:.3g}: {t.verdict} "
            f"(alpha {t.alpha:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: the headline figures and the certificate."""
        return {
            "verdict": self.test.verdict,
            "shown": self.shown,
            "agreed": self.test.agreed,
            "trials": self.test.trials,
            "agreement": self.test.agreement,
            "null_rate": self.test.null.rate,
            "p_value": self.test.p_value,
            "alpha": self.test.alpha,
            "queries": self.queries,
            "certificate": self.certificate,
        }


def verify_ownership(
    suspect: Target,
    commitment: dict[str, Any],
    key: bytes,
    *,
    references: Sequence[Target] = (),
    alpha: float = 1e-6,
    confidence: float = 0.99,
    source: str | None = None,
    issued_at: str | None = None,
) -> Verification:
    """Test whether `suspect` carries the watermark that `commitment` commits to. DataError
    when the commitment is not a valid signed commitment or the key does not match it."""
    triggers = committed_triggers(commitment, key)
    before = suspect.queries
    answers = suspect_labels(suspect, triggers, commitment)
    agreed = int(np.sum(answers == triggers.labels))
    added = tuple(measure_reference(ref, triggers, commitment) for ref in references)
    null = combined_null(committed_null(commitment), added, confidence)
    test = ownership_test(agreed, triggers.n, null, alpha)
    described = describe_suspect(suspect, source)
    cert = build_certificate(
        method=METHOD,
        suspect=described,
        evidence=_evidence(commitment, triggers, answers, agreed, added, described),
        test=test,
        key=key,
        issued_at=issued_at,
    )
    return Verification(test, cert, added, suspect.queries - before)


def committed_triggers(commitment: dict[str, Any], key: bytes) -> TriggerSet:
    """The trigger set of a commitment, rebuilt from the key: DataError for a document that
    is not a signed commitment, a signature that fails (tampered), or another owner's key."""
    return open_triggers(check_commitment(commitment, "commitment"), key)


def suspect_labels(target: Target, triggers: TriggerSet, commitment: dict[str, Any]) -> np.ndarray:
    """The target's answers on the triggers as the committed model's class indices (-1 for
    a class the committed model does not have); one metered query per trigger."""
    d = triggers.inputs.shape[1]
    if target.n_features is not None and target.n_features != d:
        raise DataError(
            f"{target.name} takes {target.n_features} features; the committed triggers have {d}"
        )
    try:
        index = np.asarray(target.predict(triggers.inputs), dtype=np.int64).reshape(-1)
    except RedwatchError:
        raise
    except Exception as exc:  # a foreign model's own error: one line, no traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TargetError(f"{target.name}: cannot answer the trigger inputs ({first})") from None
    return _to_committed(index, target.classes, commitment.get("model", {}).get("classes"))


def _to_committed(index: np.ndarray, own: np.ndarray | None, committed: Any) -> np.ndarray:
    """Translate the target's class indices to the committed model's by class value, when
    both class lists are known; indices unchanged otherwise."""
    if own is None or not isinstance(committed, list) or not committed:
        return index
    position = {_label_key(v): i for i, v in enumerate(committed)}
    mapped = [position.get(_label_key(plain_label(c)), -1) for c in own]
    table = np.asarray(mapped, dtype=np.int64)
    inside = (index >= 0) & (index < len(table))
    return np.where(inside, table[np.clip(index, 0, len(table) - 1)], -1)


def _label_key(value: Any) -> Any:
    """A class value as a dictionary key where 1, 1.0 and True-as-1 coincide."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def measure_reference(
    target: Target, triggers: TriggerSet, commitment: dict[str, Any]
) -> ReferenceAgreement:
    """How often one reference model (never saw the secret) gives the trigger labels."""
    answers = suspect_labels(target, triggers, commitment)
    return ReferenceAgreement(target.name, int(np.sum(answers == triggers.labels)), triggers.n)


def combined_null(
    committed: NullEstimate, added: Sequence[ReferenceAgreement], confidence: float
) -> NullEstimate:
    """The null over the committed references and the added ones; the committed estimate
    as it is when neither holds any reference (a fixed null rate)."""
    refs = (*committed.references, *added)
    if not refs:
        return committed
    return estimate_null(refs, confidence)


def _evidence(
    commitment: dict[str, Any],
    triggers: TriggerSet,
    answers: np.ndarray,
    agreed: int,
    added: Sequence[ReferenceAgreement],
    suspect: dict[str, Any],
) -> dict[str, Any]:
    """What the certificate records besides the test: the commitment (whole, so that its
    own signature can be checked), the trigger set's size and digest, and a summary of the
    suspect's answers (never the triggers themselves)."""
    committed_file = commitment.get("model", {}).get("sha256")
    same = None if suspect["sha256"] is None else suspect["sha256"] == committed_file
    return {
        "commitment_sha256": sha256_hex(canonical_json(commitment)),
        "commitment_created_at": commitment.get("created_at"),
        "public_key": commitment.get("public_key"),
        "trigger": {
            "kind": triggers.kind,
            "n": triggers.n,
            "digest": commitment["trigger"]["digest"],
        },
        "suspect_answers": _answers_summary(answers, agreed),
        "suspect_is_committed_file": same,
        "references": {
            "committed": len(committed_null(commitment).references),
            "added": [r.to_dict() for r in added],
        },
        "commitment": commitment,
    }


def _answers_summary(answers: np.ndarray, agreed: int) -> dict[str, Any]:
    """Counts that describe the suspect's answers without revealing the trigger labels:
    queries, agreements, distinct labels, the most common label's share, and a digest."""
    counts = np.unique(answers, return_counts=True)[1] if len(answers) else np.array([0])
    text = ",".join(str(int(a)) for a in answers.tolist()).encode("ascii")
    return {
        "queries": len(answers),
        "agreed": agreed,
        "distinct_labels": len(counts),
        "most_common_share": float(counts.max() / max(len(answers), 1)),
        "answers_sha256": sha256_hex(text),
    }
