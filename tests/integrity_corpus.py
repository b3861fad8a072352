"""Corpus of malicious and benign model artifacts for the integrity scanner and its benchmark.

Everything is built by writing bytes or by pickling objects: nothing here is ever loaded.
Every payload is harmless if it were executed: it creates the marker file `MARKER` inside the
corpus root (or reads a file / the working directory). A scan that ran a payload would leave
the marker behind, which the tests check for.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MARKER = "MARKER"


class Payload:
    """Pickles as `os.system(command)` (a shell `touch` of the marker file)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, (self.command,))


class NestedPayload:
    """Pickles as `pickle.loads(<bytes of a Payload pickle>)`."""

    def __init__(self, inner: bytes) -> None:
        self.inner = inner

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[bytes]]:
        return (pickle.loads, (self.inner,))


def _v(text: str) -> bytes:
    """A protocol-0 UNICODE operand (text without newlines)."""
    return b"V" + text.encode("raw_unicode_escape") + b"\n"


def _raw_pickles(marker: Path) -> dict[str, bytes]:
    """Hand-written opcode streams for the indirect routes of the issue."""
    m = str(marker)
    cmd = f"touch {m}"
    code = f"open({m!r}, 'w').close()"
    inner = pickle.dumps(Payload(cmd), protocol=2)
    return {
        "posix_system.pkl": b"cposix\nsystem\n(" + _v(cmd) + b"tR.",
        "builtins_exec.pkl": b"cbuiltins\nexec\n(" + _v(code) + b"tR.",
        "builtin_eval_alias.pkl": b"c__builtin__\neval\n(" + _v(code) + b"tR.",
        "getattr_chain.pkl": (
            b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(" + _v(cmd) + b"tR."
        ),
        "methodcaller.pkl": (
            b"coperator\nmethodcaller\n(Vtouch\ntR(cpathlib\nPath\n(" + _v(m) + b"tRtR."
        ),
        "importlib_import_module.pkl": (
            b"cbuiltins\ngetattr\n(cimportlib\nimport_module\n(Vos\ntRVsystem\ntR("
            + _v(cmd)
            + b"tR."
        ),
        "runpy_run_path.pkl": b"crunpy\nrun_path\n(" + _v(m + ".py") + b"tR.",
        "collect_env_run.pkl": b"ctorch.utils.collect_env\nrun\n(" + _v(cmd) + b"tR.",
        "spawnv_passfds.pkl": (
            b"cmultiprocessing.util\nspawnv_passfds\n(V/usr/bin/touch\n(V/usr/bin/touch\n"
            + _v(m)
            + b"l(ltR."
        ),
        "pandas_read_csv.pkl": b"cpandas\nread_csv\n(V/etc/hostname\ntR.",
        "numpy_runstring.pkl": b"cnumpy.testing._private.utils\nrunstring\n(" + _v(code) + b"}tR.",
        "nested_pickle_loads.pkl": pickle.dumps(NestedPayload(inner), protocol=4),
        "inst_route.pkl": b"(" + _v(cmd) + b"ios\nsystem\n.",
        "obj_route.pkl": b"(cos\nsystem\n" + _v(cmd) + b"o.",
        "newobj_route.pkl": (b"\x80\x02csubprocess\nPopen\n((Vtouch\n" + _v(m) + b"lt\x81."),
        "build_setstate.pkl": (
            b"ccollections\nOrderedDict\n)R}V__setstate__\ncos\nsystem\nsb" + _v(cmd) + b"b."
        ),
        "stack_global_memo.pkl": (
            b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94"
            + b"00"
            + b"h\x00h\x01\x93("
            + _v(cmd)
            + b"tR."
        ),
        "subprocess_call.pkl": b"csubprocess\ncall\n((Vtouch\n" + _v(m) + b"ltR.",
        "os_system_protocol5.pkl": pickle.dumps(Payload(cmd), protocol=5),
        "os_system_protocol0.pkl": pickle.dumps(Payload(cmd), protocol=0),
    }


def _malicious(root: Path) -> list[Path]:
    marker = root / MARKER
    cmd = f"touch {marker}"
    out = root / "malicious"
    out.mkdir(parents=True, exist_ok=True)
    files = {name: body for name, body in _raw_pickles(marker).items()}
    files.update(_malicious_containers(cmd))
    files.update(_malicious_ml(cmd))
    files.update(_malicious_structured())
    paths = []
    for name, body in sorted(files.items()):
        (out / name).write_bytes(body)
        paths.append(out / name)
    return paths


def _malicious_containers(cmd: str) -> dict[str, bytes]:
    evil = pickle.dumps(Payload(cmd), protocol=4)
    zbuf, tbuf, gbuf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as archive:
        archive.writestr("README.txt", "weights")
        archive.writestr("../../escape.sh", "echo escaped\n")
    with tarfile.open(fileobj=tbuf, mode="w") as archive:
        _tar_add(archive, "model/README.txt", b"weights")
        _tar_add(archive, "../escape.sh", b"echo escaped\n")
    sym = io.BytesIO()
    with tarfile.open(fileobj=sym, mode="w") as archive:
        link = tarfile.TarInfo("model/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        archive.addfile(link)
    with tarfile.open(fileobj=gbuf, mode="w:gz") as archive:
        _tar_add(archive, "bundle/model.bin", evil)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("weights/model.bin", evil)
    return {
        "zip_traversal.zip": zbuf.getvalue(),
        "tar_traversal.tar": tbuf.getvalue(),
        "tar_symlink_escape.tar": sym.getvalue(),
        "tar_gz_pickle_payload.tar.gz": gbuf.getvalue(),
        "zip_pickle_payload.zip": inner.getvalue(),
    }


def _tar_add(archive: tarfile.TarFile, name: str, body: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    archive.addfile(info, io.BytesIO(body))


def _malicious_ml(cmd: str) -> dict[str, bytes]:
    """Payloads inside real ML containers: joblib, dill, torch, numpy."""
    import joblib
    import torch

    arrays = {"coef": np.arange(6.0).reshape(2, 3), "payload": Payload(cmd)}
    files: dict[str, bytes] = {}
    for name, compress in (("joblib_payload.joblib", 0), ("joblib_payload_zlib.joblib", 3)):
        buf = io.BytesIO()
        joblib.dump(arrays, buf, compress=compress)
        files[name] = buf.getvalue()
    files["dill_payload.pkl"] = _dill(f"dill.dumps(Payload({cmd!r}))")
    files["dill_lambda.pkl"] = _dill(f"dill.dumps(lambda: os.system({cmd!r}))")
    for name, zipped in (("torch_zip_payload.pt", True), ("torch_legacy_payload.pt", False)):
        buf = io.BytesIO()
        obj = {"weight": torch.zeros(4), "payload": Payload(cmd)}
        torch.save(obj, buf, _use_new_zipfile_serialization=zipped)
        files[name] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, np.array([1.0, Payload(cmd)], dtype=object), allow_pickle=True)
    files["npy_object_payload.npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, w=np.arange(3.0), o=np.array([Payload(cmd)], dtype=object))
    files["npz_object_payload.npz"] = buf.getvalue()
    return files


def _dill(expression: str) -> bytes:
    """Evaluate a dill.dumps expression in a child process: importing dill patches pickle's
    dispatch tables for the whole process, which would change every later joblib dump."""
    script = (
        "import os, sys, dill\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from integrity_corpus import Payload\n"
        "import numpy as np\n"
        f"sys.stdout.buffer.write({expression})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, timeout=120
    ).stdout


def _malicious_structured() -> dict[str, bytes]:
    """Non-pickle formats: Keras Lambda layers, ONNX external data, safetensors offsets."""
    lam2 = {"class_name": "Lambda", "config": {"name": "lam", "function": ["ZXZpbA==", None, None]}}
    lam3 = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "lam", "function": {"class_name": "__lambda__", "config": {}}},
    }
    return {
        "keras_lambda.h5": _keras_h5(_keras_config([_dense(4), lam2])),
        "keras_lambda.keras": _keras_zip(_keras_config([_dense(4, keras3=True), lam3])),
        "onnx_external_escape.onnx": _onnx_external("../../../../etc/passwd"),
        "onnx_external_absolute.onnx": _onnx_external("/etc/passwd"),
        "onnx_custom_domain.onnx": _onnx_custom_domain(),
        "safetensors_out_of_range.safetensors": _safetensors([("w", "F32", [4], 0, 4096)]),
        "safetensors_overlap.safetensors": _safetensors(
            [("a", "F32", [4], 0, 16), ("b", "F32", [4], 8, 24)], buffer=24
        ),
        "safetensors_header_length.safetensors": struct.pack("<Q", 1 << 40) + b'{"a":1}',
        "safetensors_shape_mismatch.safetensors": _safetensors([("w", "F64", [100], 0, 16)]),
    }


def _dense(units: int, *, keras3: bool = False) -> dict[str, Any]:
    layer: dict[str, Any] = {"class_name": "Dense", "config": {"name": f"d{units}", "units": units}}
    if keras3:
        layer.update(module="keras.layers", registered_name=None)
    return layer


def _keras_config(layers: list[dict[str, Any]]) -> str:
    return json.dumps({"class_name": "Sequential", "config": {"name": "seq", "layers": layers}})


def _keras_h5(config: str) -> bytes:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as handle:
        handle.attrs["model_config"] = config
        handle.attrs["keras_version"] = "2.15.0"
        handle.create_group("model_weights").create_dataset("kernel", data=np.ones((3, 4)))
    return buf.getvalue()


def _keras_zip(config: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
    return buf.getvalue()


def _onnx_model(initializer: Any, *, domain: str = "") -> bytes:
    from onnx import TensorProto, helper

    node = helper.make_node("Add", ["x", "w"], ["y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [initializer],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())


def _onnx_external(location: str) -> bytes:
    from onnx import TensorProto, helper

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return _onnx_model(tensor)


def _onnx_custom_domain() -> bytes:
    from onnx import TensorProto, helper

    return _onnx_model(
        helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0]), domain="evil.custom"
    )


def _safetensors(
    entries: list[tuple[str, str, list[int], int, int]], *, buffer: int | None = None
) -> bytes:
    header = {n: {"dtype": d, "shape": s, "data_offsets": [b, e]} for n, d, s, b, e in entries}
    raw = json.dumps(header).encode()
    size = buffer if buffer is not None else max(e for *_, e in entries) // 4
    return struct.pack("<Q", len(raw)) + raw + bytes(size)


# -- benign ---------------------------------------------------------------------------------
def _benign(root: Path) -> list[Path]:
    out = root / "benign"
    out.mkdir(parents=True, exist_ok=True)
    writers: list[Callable[[Path], list[Path]]] = [
        _benign_sklearn,
        _benign_boosters,
        _benign_torch,
        _benign_numpy,
        _benign_onnx,
        _benign_misc,
    ]
    paths: list[Path] = []
    for writer in writers:
        paths.extend(writer(out))
    return sorted(paths)


def _fit_models() -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    return {
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y),
        "random_forest": RandomForestClassifier(n_estimators=60, random_state=0).fit(x, y),
        "logreg": LogisticRegression(max_iter=300).fit(x, y),
    }


def _benign_sklearn(out: Path) -> list[Path]:
    import joblib

    paths = []
    for name, model in _fit_models().items():
        for suffix, compress in (("joblib", 0), ("z.joblib", 3), ("gz.joblib", ("gzip", 3))):
            paths.append(out / f"{name}.{suffix}")
            joblib.dump(model, paths[-1], compress=compress)
        for protocol in (2, 4):
            paths.append(out / f"{name}_p{protocol}.pkl")
            paths[-1].write_bytes(pickle.dumps(model, protocol=protocol))
    return paths


def _benign_boosters(out: Path) -> list[Path]:
    import joblib
    import lightgbm
    import xgboost
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    xgb = xgboost.XGBClassifier(n_estimators=4, max_depth=2, random_state=0).fit(x, y)
    lgb = lightgbm.LGBMClassifier(n_estimators=4, verbose=-1, random_state=0).fit(x, y)
    joblib.dump(xgb, out / "xgboost.joblib")
    (out / "xgboost.pkl").write_bytes(pickle.dumps(xgb))
    xgb.save_model(out / "xgboost.json")
    xgb.save_model(out / "xgboost.ubj")
    joblib.dump(lgb, out / "lightgbm.joblib", compress=("bz2", 1))
    lgb.booster_.save_model(out / "lightgbm.txt")
    names = ["xgboost.joblib", "xgboost.pkl", "xgboost.json", "xgboost.ubj"]
    return [out / n for n in (*names, "lightgbm.joblib", "lightgbm.txt")]


def _benign_torch(out: Path) -> list[Path]:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 256), torch.nn.ReLU(), torch.nn.Linear(256, 3))
    torch.save(net.state_dict(), out / "torch_state_dict.pt")
    torch.save(net.state_dict(), out / "torch_legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(net), out / "torchscript.pt")
    torch.save({"epoch": 3, "model": net.state_dict()}, out / "torch_checkpoint.pth")
    names = ["torch_state_dict.pt", "torch_legacy.pt", "torchscript.pt", "torch_checkpoint.pth"]
    return [out / n for n in names]


def _benign_numpy(out: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    np.save(out / "weights.npy", rng.normal(size=(16, 4)))
    np.save(out / "labels.npy", np.arange(10, dtype=np.int64))
    np.save(out / "records.npy", np.zeros(3, dtype=[("Object", "<f8"), ("b", "<i4")]))
    np.savez(out / "arrays.npz", a=rng.normal(size=5), b=np.eye(3))
    np.savez_compressed(out / "arrays_compressed.npz", a=rng.normal(size=50))
    from safetensors.numpy import save_file

    save_file({"w": rng.normal(size=(4, 3)).astype(np.float32)}, str(out / "w.safetensors"))
    save_file(
        {"a": np.arange(6, dtype=np.int64), "b": np.ones((2, 2), dtype=np.float16)},
        str(out / "ab.safetensors"),
        metadata={"format": "np"},
    )
    names = ["weights.npy", "labels.npy", "records.npy", "arrays.npz", "arrays_compressed.npz"]
    return [out / n for n in (*names, "w.safetensors", "ab.safetensors")]


def _benign_onnx(out: Path) -> list[Path]:
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx

    models = _fit_models()
    x = np.zeros((1, 4), dtype=np.float32)
    paths = []
    for name in ("logreg", "random_forest"):
        paths.append(out / f"{name}.onnx")
        paths[-1].write_bytes(to_onnx(models[name], x).SerializeToString())
    folder = out / "onnx_external"
    folder.mkdir(exist_ok=True)
    (folder / "weights.bin").write_bytes(np.zeros(2, dtype=np.float32).tobytes())
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", "8")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    (folder / "model.onnx").write_bytes(_onnx_model(tensor))
    return [*paths, folder / "model.onnx", folder / "weights.bin"]


def _benign_misc(out: Path) -> list[Path]:
    import joblib

    rng = np.random.default_rng(1)
    state = OrderedDict((f"layer{i}", rng.normal(size=3)) for i in range(3))
    for protocol in (2, 4):
        (out / f"ordered_dict_p{protocol}.pkl").write_bytes(pickle.dumps(state, protocol))
    joblib.dump(state, out / "ordered_dict.xz.joblib", compress=("xz", 1))
    (out / "dill_arrays.pkl").write_bytes(_dill("dill.dumps({'w': np.arange(4.0)})"))
    (out / "keras_model.h5").write_bytes(_keras_h5(_keras_config([_dense(8), _dense(2)])))
    config = _keras_config([_dense(8, keras3=True), _dense(2, keras3=True)])
    (out / "keras_model.keras").write_bytes(_keras_zip(config))
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w:gz") as archive:
        _tar_add(archive, "model/state.pkl", pickle.dumps(state))
        _tar_add(archive, "model/README.md", b"# model\n")
    (out / "bundle.tar.gz").write_bytes(bundle.getvalue())
    names = ["ordered_dict_p2.pkl", "ordered_dict_p4.pkl", "ordered_dict.xz.joblib"]
    names += ["dill_arrays.pkl", "keras_model.h5", "keras_model.keras", "bundle.tar.gz"]
    return [out / n for n in names]


def build_corpus(root: Path) -> dict[str, list[Path]]:
    """Write the corpus under `root` (malicious/ and benign/); the marker path is root/MARKER."""
    root.mkdir(parents=True, exist_ok=True)
    return {"malicious": _malicious(root), "benign": _benign(root)}


if __name__ == "__main__":  # python tests/integrity_corpus.py DIR
    built = build_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else "integrity-corpus"))
    print({k: len(v) for k, v in built.items()})
