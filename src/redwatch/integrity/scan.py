"""Artifact scan entry point: files and folders in, one FileReport per file out.

The format of every file (and of every archive member) is detected from its content, then
the matching checker runs: pickle streams (raw, joblib, dill, torch zip and legacy, object
arrays in .npy), Keras configs, ONNX graphs, safetensors headers, zip/tar containers. Nothing
is ever loaded, unpickled or extracted to disk.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redwatch.exceptions import DataError, TargetError
from redwatch.integrity.archives import tar_members, zip_members
from redwatch.integrity.artifact_report import FileReport, ScanItem
from redwatch.integrity.formats import Format, decompress, sniff
from redwatch.integrity.keras_scan import scan_keras_h5, scan_keras_zip
from redwatch.integrity.numpy_scan import npy_header
from redwatch.integrity.onnx_scan import escapes, scan_onnx
from redwatch.integrity.pickle_policy import Verdict
from redwatch.integrity.pickle_scan import (
    PickleScanReport,
    scan_bytes,
    scan_pickle_bytes,
)
from redwatch.integrity.safetensors_scan import scan_safetensors

MAX_DEPTH = 4


@dataclass(frozen=True)
class ScanOptions:
    """fickling: off, on streams our analysis does not vouch for (default), or always."""

    use_fickling: bool = True
    fickling_all: bool = False


_TORCH_ZIPS = (Format.TORCH_ZIP, Format.TORCHSCRIPT)
_PICKLE_DIRECT = (Format.PICKLE, Format.TORCH_LEGACY, Format.NUMPY, *_TORCH_ZIPS)


def scan_path(
    path: str | Path, *, use_fickling: bool = True, fickling_all: bool = False
) -> list[FileReport]:
    """Scan a file, or every file under a folder; paths are reported relative to `path`."""
    root = Path(path)
    if root.is_file():
        return [scan_one(root, root.name, use_fickling=use_fickling, fickling_all=fickling_all)]
    if not root.is_dir():
        raise DataError(f"no such file or folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return [
        scan_one(
            f, f.relative_to(root).as_posix(), use_fickling=use_fickling, fickling_all=fickling_all
        )
        for f in files
    ]


def scan_one(
    path: Path, label: str, *, use_fickling: bool = True, fickling_all: bool = False
) -> FileReport:
    """Scan one file; an unreadable file gives a report with `error` set."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileReport(label, Format.UNKNOWN.value, 0, error=f"cannot read: {exc.strerror}")
    opts = ScanOptions(use_fickling, fickling_all)
    fmt, items = scan_artifact(data, label, opts=opts)
    notes = () if fmt is not Format.UNKNOWN else ("format not recognised; no checks apply",)
    return FileReport(label, fmt.value, len(data), tuple(items), notes=notes)


def scan_artifact(
    data: bytes, label: str, *, depth: int = 0, opts: ScanOptions | None = None
) -> tuple[Format, list[ScanItem]]:
    """Detect the format of `data` and run its checks; items name `label` as location."""
    fmt = sniff(data)
    if depth > MAX_DEPTH:
        return fmt, [ScanItem("archive-nesting", Verdict.SUSPICIOUS, "archives nested too deep")]
    try:
        items = _dispatch(fmt, data, label, depth, opts or ScanOptions())
    except TargetError as exc:
        items = [ScanItem("parse", Verdict.SUSPICIOUS, str(exc), location=label)]
    return fmt, items


def _dispatch(
    fmt: Format, data: bytes, label: str, depth: int, opts: ScanOptions
) -> list[ScanItem]:
    if fmt in _PICKLE_DIRECT:
        extra = _zip_names(data) if fmt in _TORCH_ZIPS else _npy_header(data, fmt, label)
        return extra + pickle_items(_pickle_scan(data, label, opts))
    if fmt.compressed or fmt is Format.JOBLIB_COMPAT:
        return _compressed(fmt, data, label, depth, opts)
    if fmt in (Format.ZIP, Format.KERAS, Format.TAR):
        keras = scan_keras_zip(data) if fmt is Format.KERAS else []
        lister = tar_members if fmt is Format.TAR else zip_members
        return keras + _archive(lister, data, label, depth, opts)
    checker = _CHECKERS.get(fmt)
    return [] if checker is None else checker(data)


_CHECKERS: dict[Format, Callable[[bytes], list[ScanItem]]] = {
    Format.HDF5: scan_keras_h5,
    Format.ONNX: scan_onnx,
    Format.SAFETENSORS: scan_safetensors,
}


def _compressed(
    fmt: Format, data: bytes, label: str, depth: int, opts: ScanOptions
) -> list[ScanItem]:
    """A joblib-compressed pickle, or a compressed tar (.tar.gz, .tar.xz ...)."""
    if fmt is Format.JOBLIB_COMPAT:
        return pickle_items(_pickle_scan(data, label, opts))
    inner = decompress(data, fmt)
    if sniff(inner) is Format.TAR:
        return _archive(tar_members, inner, label, depth, opts)
    report = scan_pickle_bytes(
        inner,
        source=f"{label}[{fmt.value}]",
        use_fickling=opts.use_fickling,
        fickling_all=opts.fickling_all,
    )
    return pickle_items(report)


def _archive(
    lister: Callable[[bytes], tuple[list[ScanItem], list[tuple[str, bytes]]]],
    data: bytes,
    label: str,
    depth: int,
    opts: ScanOptions,
) -> list[ScanItem]:
    items, members = lister(data)
    for name, body in members:
        where = f"{label}!{name}"
        _fmt, found = scan_artifact(body, where, depth=depth + 1, opts=opts)
        items.extend(found)
    return items


def _npy_header(data: bytes, fmt: Format, label: str) -> list[ScanItem]:
    """A .npy header that does not parse: no loader reads it, but it is not a clean file."""
    if fmt is not Format.NUMPY:
        return []
    try:
        npy_header(data)
    except TargetError as exc:
        return [ScanItem("npy-header", Verdict.SUSPICIOUS, str(exc), location=label)]
    return []


def _zip_names(data: bytes) -> list[ScanItem]:
    """Traversal check on the member names of a torch archive (their pickles scan apart)."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []
    return [
        ScanItem(
            "archive-traversal",
            Verdict.UNSAFE,
            f"member {n!r} would be written outside the extraction folder",
            location=n,
            symbol=n,
        )
        for n in names
        if escapes(n)
    ]


def _pickle_scan(data: bytes, label: str, opts: ScanOptions) -> PickleScanReport:
    return scan_bytes(
        data, source=label, use_fickling=opts.use_fickling, fickling_all=opts.fickling_all
    )


def pickle_items(report: PickleScanReport) -> list[ScanItem]:
    """The pickle scan's offending globals, structural issues and fickling findings."""
    items = [
        ScanItem(
            "pickle-global",
            g.verdict,
            f"{g.qualified}: {g.reason}",
            location=g.stream,
            offset=g.offset,
            symbol=g.qualified,
            opcode=g.opcode,
        )
        for g in report.offending
    ]
    for issue in report.issues:
        verdict = Verdict.UNSAFE if "BUILD at offset" in issue else Verdict.SUSPICIOUS
        items.append(ScanItem("pickle-structure", verdict, issue, location=report.source))
    for text in report.fickling_issues:
        if "fickling failed" not in text:
            items.append(ScanItem("fickling", Verdict.UNSAFE, text, location=report.source))
    return items
