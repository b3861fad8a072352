"""Per-format checks of the artifact scanner: detection by content, each checker's edges."""

from __future__ import annotations

import io
import json
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import DataError
from redwatch.integrity import Format, Verdict, scan_path, sniff
from redwatch.integrity.archives import tar_members, zip_members
from redwatch.integrity.keras_scan import scan_config_text
from redwatch.integrity.numpy_scan import has_object_dtype, npy_pickle_payload
from redwatch.integrity.onnx_scan import escapes
from redwatch.integrity.pickle_policy import classify
from redwatch.integrity.safetensors_scan import scan_safetensors
from redwatch.integrity.scan import scan_artifact
from redwatch.integrity.scan_sarif import sarif_log
from redwatch.testing.requirements import require


def _verdict(data: bytes) -> Verdict:
    _fmt, items = scan_artifact(data, "x")
    return max((i.verdict for i in items), key=lambda v: v.rank, default=Verdict.SAFE)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch.utils.collect_env", "run"),
        ("multiprocessing.util", "spawnv_passfds"),
        ("pandas", "read_csv"),
        ("pandas.io.parsers.readers", "read_csv"),
        ("importlib", "import_module"),
        ("operator", "methodcaller"),
        ("runpy", "_run_code"),
        ("numpy", "load"),
        ("torch.serialization", "load"),
        ("dill._dill", "_create_code"),
    ],
)
def test_indirect_routes_are_unsafe(module: str, name: str) -> None:
    assert classify(module, name)[0] is Verdict.UNSAFE


def test_dill_array_helper_is_allowed() -> None:
    assert classify("dill._dill", "_create_array")[0] is Verdict.SAFE


def test_nested_pickle_in_protocol_2_bytes_is_walked() -> None:
    inner = b"\x80\x02cos\ngetcwd\n)R."

    class Nested:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (pickle.loads, (inner,))

    data = pickle.dumps(Nested(), protocol=2)  # bytes go through _codecs.encode
    _fmt, items = scan_artifact(data, "n.pkl", opts=None)
    symbols = {i.symbol for i in items}
    assert "os.getcwd" in symbols  # found inside the bytes argument
    assert any(s and s.endswith("pickle.loads") for s in symbols)


def test_legacy_torch_raw_storage_is_not_read_as_opcodes(tmp_path: Path) -> None:
    torch = require("torch", "torch")
    # 128 float32 values: the storage starts with the size 0x80, which looks like PROTO.
    torch.save({"w": torch.ones(128)}, tmp_path / "l.pt", _use_new_zipfile_serialization=False)
    [report] = scan_path(tmp_path / "l.pt")
    assert report.format == "torch-legacy"
    assert report.verdict is Verdict.SAFE, report.offending


def test_npy_object_array_of_plain_values_is_safe_and_header_is_parsed() -> None:
    buf = io.BytesIO()
    np.save(buf, np.array(["a", 1, None], dtype=object), allow_pickle=True)
    assert npy_pickle_payload(buf.getvalue()) is not None
    assert _verdict(buf.getvalue()) is Verdict.SAFE
    assert has_object_dtype([("Obj", "<f8"), ("x", "|O")])
    assert not has_object_dtype([("Object", "<f8")])


def test_safetensors_from_the_package_is_consistent(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((3, 5), np.float32), "b": np.ones(2, np.int8)}, str(tmp_path / "s"))
    assert scan_safetensors((tmp_path / "s").read_bytes()) == []


def test_safetensors_trailing_bytes_are_suspicious() -> None:
    header = json.dumps({"w": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}).encode()
    data = struct.pack("<Q", len(header)) + header + b"\x00" * 10
    [item] = scan_safetensors(data)
    assert item.verdict is Verdict.SUSPICIOUS
    assert "unaccounted" in item.message


@pytest.mark.parametrize(
    ("location", "bad"),
    [
        ("weights.bin", False),
        ("sub/w.bin", False),
        ("../w.bin", True),
        ("/etc/passwd", True),
        ("C:\\w.bin", True),
        ("a\\..\\..\\w", True),
    ],
)
def test_external_data_escape(location: str, bad: bool) -> None:
    assert escapes(location) is bad


def test_keras_custom_object_is_suspicious_and_builtin_layers_are_not() -> None:
    config = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"module": "keras.layers", "class_name": "Dense", "config": {}},
                {"module": "my_pkg.layers", "class_name": "Evil", "config": {}},
            ]
        },
    }
    [item] = scan_config_text(json.dumps(config), "config.json")
    assert item.kind == "keras-custom-object"
    assert item.verdict is Verdict.SUSPICIOUS


def test_archives_flag_traversal_and_hand_back_members() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("ok/a.txt", "a")
        archive.writestr("/abs.txt", "b")
    items, members = zip_members(buf.getvalue())
    assert [i.symbol for i in items] == ["/abs.txt"]
    assert [n for n, _ in members] == ["ok/a.txt", "/abs.txt"]
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w") as archive:
        link = tarfile.TarInfo("m/inside")
        link.type, link.linkname = tarfile.SYMTYPE, "../m/other"
        archive.addfile(link)
    items, _ = tar_members(tbuf.getvalue())
    assert items == []  # a link that stays inside the folder is fine


def test_detection_ignores_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"  # a pickle in disguise
    path.write_bytes(b"cos\nsystem\n(Vtrue\ntR.")
    [report] = scan_path(path)
    assert report.format == "pickle"
    assert report.verdict is Verdict.UNSAFE
    assert sniff(b"\x89HDF\r\n\x1a\n" + bytes(100)) is Format.HDF5


def test_folder_scan_reports_relative_paths_and_sarif(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "evil.pkl").write_bytes(b"cposix\nsystem\n(Vtrue\ntR.")
    np.save(tmp_path / "ok.npy", np.arange(3))
    reports = scan_path(tmp_path)
    assert [r.path for r in reports] == ["ok.npy", "sub/evil.pkl"]
    assert [r.verdict for r in reports] == [Verdict.SAFE, Verdict.UNSAFE]
    doc = reports[1].to_dict()
    assert doc["references"] == ["AML.T0010.003", "AML.T0011.000", "OWASP-ML06"]
    assert doc["items"][0]["offset"] == 0
    log = sarif_log(reports, version="0")
    results = log["runs"][0]["results"]
    assert len(results) == len(reports[1].offending)
    uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "sub/evil.pkl"


def test_missing_path_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        scan_path(tmp_path / "missing")
