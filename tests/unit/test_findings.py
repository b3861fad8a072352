"""Finding fingerprints and serialization."""

import numpy as np
import pytest

from redwatch.exceptions import UsageError
from redwatch.findings import Category, Evidence, Finding, Mitigation, Severity


def _finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "probe": "evasion.pgd",
        "category": Category.EVASION,
        "severity": Severity.HIGH,
        "title": "t",
        "target": "m",
        "key": "norm=inf",
    }
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def test_fingerprint_ignores_measurements_but_not_identity() -> None:
    a = _finding(metrics={"success_rate": 0.5})
    b = _finding(metrics={"success_rate": 0.9}, severity=Severity.CRITICAL, title="other")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != _finding(key="norm=2").fingerprint
    assert a.fingerprint != _finding(target="m2").fingerprint


def test_round_trip_through_dict_keeps_content_and_cleans_numpy() -> None:
    f = _finding(
        metrics={
            "curve": [{"epsilon": np.float32(0.1), "accuracy": np.float64(0.5)}],
            "n": np.int64(3),
            "bad": float("nan"),
        },
        evidence=[Evidence("adv", "d", arrays={"x": np.zeros(2)}, path="evidence/x.npz")],
        mitigations=[Mitigation("retrain", "do it")],
        references=("AML.T0015",),
    )
    d = f.to_dict()
    assert d["metrics"]["n"] == 3
    assert isinstance(d["metrics"]["n"], int)
    assert d["metrics"]["bad"] is None
    assert d["evidence"][0]["arrays"] == ["x"]
    back = Finding.from_dict(d)
    assert back.fingerprint == f.fingerprint
    assert back.severity is Severity.HIGH
    assert back.evidence[0].path == "evidence/x.npz"
    assert back.mitigations[0].title == "do it"


def test_severity_parse_rejects_unknown_names() -> None:
    assert Severity.parse(" High ") is Severity.HIGH
    with pytest.raises(UsageError, match="unknown severity 'severe'"):
        Severity.parse("severe")
