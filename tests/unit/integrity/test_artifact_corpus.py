"""The whole generated corpus: every malicious artifact caught, no benign one flagged, no
payload ever executed, and the loading gate refusing every unsafe pickle-bearing file."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from integrity_corpus import MARKER, Payload, build_corpus
from redwatch.exceptions import TargetError, UnsafeArtifactError
from redwatch.integrity import Verdict, scan_path, sniff
from redwatch.integrity.formats import Format
from redwatch.integrity.pickle_scan import PICKLE_FORMATS
from redwatch.targets.loading import load_file


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, build_corpus(root)


def test_corpus_is_large_enough(corpus) -> None:
    _root, files = corpus
    assert len(files["malicious"]) >= 30
    assert len(files["benign"]) >= 30
    formats = {sniff(p.read_bytes()) for p in files["malicious"]}
    assert {Format.PICKLE, Format.TORCH_ZIP, Format.TORCH_LEGACY, Format.NUMPY} <= formats
    assert {Format.HDF5, Format.KERAS, Format.ONNX, Format.SAFETENSORS, Format.TAR} <= formats


def test_every_malicious_artifact_is_detected(corpus) -> None:
    _root, files = corpus
    missed = [p.name for p in files["malicious"] if scan_path(p)[0].verdict is Verdict.SAFE]
    assert missed == []


def test_code_execution_payloads_are_unsafe_not_just_suspicious(corpus) -> None:
    _root, files = corpus
    for path in files["malicious"]:
        if path.suffix in (".pkl", ".pt", ".joblib", ".npy", ".npz", ".h5", ".keras"):
            assert scan_path(path)[0].verdict is Verdict.UNSAFE, path.name


def test_no_benign_artifact_is_flagged(corpus) -> None:
    _root, files = corpus
    flagged = {
        p.name: [i.message for i in r.offending]
        for p in files["benign"]
        for r in scan_path(p)
        if r.verdict is not Verdict.SAFE
    }
    assert flagged == {}


def test_scanning_never_runs_a_payload(corpus) -> None:
    root, files = corpus
    reports = scan_path(root, fickling_all=True)
    assert len(reports) >= len(files["malicious"]) + len(files["benign"])
    assert not (root / MARKER).exists()


def test_the_payload_really_would_create_the_marker(tmp_path: Path) -> None:
    # Positive control for the test above, in a child process with its own marker.
    marker = tmp_path / "control"
    data = pickle.dumps(Payload(f"touch {marker}"))
    subprocess.run(
        [sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"],
        input=data,
        check=True,
        timeout=60,
    )
    assert marker.exists()


def test_loading_gate_refuses_every_unsafe_pickle_bearing_file(corpus) -> None:
    root, files = corpus
    gated = 0
    for path in files["malicious"]:
        fmt = sniff(path.read_bytes())
        if fmt not in PICKLE_FORMATS:
            continue
        expected = TargetError if fmt is Format.ZIP else UnsafeArtifactError
        with pytest.raises(expected):
            load_file(path)
        gated += 1
    assert gated >= 25
    assert not (root / MARKER).exists()
