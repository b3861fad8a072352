"""Pickle safety scan: decide whether a model file may be unpickled, without unpickling it.

Every pickle stream in the file (raw, joblib-compressed, or inside a PyTorch zip) is walked
symbolically; each imported global is classified against an allowlist of what ML formats
legitimately import and a denylist of code-execution gadgets. fickling's analysis runs on the
same opcodes and its verdict is merged: what fickling calls overtly malicious is unsafe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from redwatch.exceptions import DataError, TargetError
from redwatch.integrity.formats import Format, decompress, sniff, zip_pickles
from redwatch.integrity.numpy_scan import npy_pickle_payload
from redwatch.integrity.pickle_policy import Verdict, classify, worst
from redwatch.integrity.pickle_vm import PickleWalker, WalkResult

PICKLE_FORMATS = frozenset(
    {
        Format.PICKLE,
        Format.ZLIB,
        Format.GZIP,
        Format.BZ2,
        Format.XZ,
        Format.LZMA,
        Format.LZ4,
        Format.JOBLIB_COMPAT,
        Format.TORCH_ZIP,
        Format.TORCHSCRIPT,
        Format.ZIP,
        Format.TORCH_LEGACY,
        Format.NUMPY,
    }
)
# Legacy torch.save: magic number, protocol, sys info, the data, the storage keys; raw after.
_TORCH_LEGACY_PICKLES = 5


@dataclass(frozen=True)
class GlobalRef:
    """One global a pickle imports, with its classification and where it was found."""

    module: str
    name: str
    offset: int
    opcode: str
    stream: str
    verdict: Verdict
    reason: str

    @property
    def qualified(self) -> str:
        """`module.name`, as Python would spell the import."""
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class PickleScanReport:
    """Outcome of scanning one artifact: overall verdict, globals, issues, fickling's view."""

    source: str
    format: str
    verdict: Verdict
    globals: tuple[GlobalRef, ...] = ()
    issues: tuple[str, ...] = ()
    fickling_verdict: str | None = None  # fickling's worst severity name; "ERROR"; None: off
    fickling_issues: tuple[str, ...] = ()
    streams: int = 0

    @property
    def safe(self) -> bool:
        """True when nothing unsafe or unknown was found."""
        return self.verdict is Verdict.SAFE

    @property
    def offending(self) -> tuple[GlobalRef, ...]:
        """Globals that are not safe, worst first."""
        bad = [g for g in self.globals if g.verdict is not Verdict.SAFE]
        return tuple(sorted(bad, key=lambda g: -g.verdict.rank))

    def summary(self) -> str:
        """One line for a human: verdict plus the offending globals or first issue."""
        names = sorted({g.qualified for g in self.offending})
        detail = ", ".join(names) if names else "; ".join(self.issues[:1]) or "no findings"
        return f"{self.source}: {self.verdict.value} ({detail})"


@dataclass
class _Accumulator:
    globals: list[GlobalRef] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    fickling: list[str] = field(default_factory=list)
    fickling_levels: list[str] = field(default_factory=list)
    fickling_errors: list[str] = field(default_factory=list)
    streams: int = 0
    fickling_all: bool = False


def scan_file(path: str | Path, *, use_fickling: bool = True) -> PickleScanReport:
    """Scan a model file of any pickle-bearing format; DataError if it does not exist."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"model file not found: {p}")
    return scan_bytes(p.read_bytes(), source=str(p), use_fickling=use_fickling)


def scan_bytes(
    data: bytes, *, source: str, use_fickling: bool = True, fickling_all: bool = False
) -> PickleScanReport:
    """Scan an artifact whose format is detected from its content.

    fickling runs on every stream that our own analysis does not fully vouch for; with
    `fickling_all` it runs on every stream (slow on large pickles, same verdicts in practice,
    because a stream whose every global is allowlisted has no code-execution route)."""
    fmt = sniff(data)
    if fmt not in PICKLE_FORMATS:
        return PickleScanReport(source=source, format=fmt.value, verdict=Verdict.SAFE)
    acc = _Accumulator(fickling_all=fickling_all)
    limit = _TORCH_LEGACY_PICKLES if fmt is Format.TORCH_LEGACY else None
    try:
        for label, payload, torchscript in _streams(data, fmt, source):
            _scan_stream(
                payload,
                label,
                acc,
                torchscript=torchscript,
                use_fickling=use_fickling,
                max_pickles=limit,
            )
    except TargetError as exc:
        acc.issues.append(str(exc))
    return _report(source, fmt.value, acc)


def scan_pickle_bytes(
    data: bytes, *, source: str, use_fickling: bool = True, fickling_all: bool = False
) -> PickleScanReport:
    """Scan bytes that are one pickle stream (possibly with joblib array payloads)."""
    acc = _Accumulator(fickling_all=fickling_all)
    _scan_stream(data, source, acc, torchscript=False, use_fickling=use_fickling)
    return _report(source, Format.PICKLE.value, acc)


def _streams(data: bytes, fmt: Format, source: str) -> list[tuple[str, bytes, bool]]:
    if fmt is Format.JOBLIB_COMPAT:
        raise TargetError("joblib files from before 0.10 (ZF header) are not supported")
    if fmt.compressed:
        return [(f"{source}[{fmt.value}]", decompress(data, fmt), False)]
    if fmt is Format.NUMPY:  # a malformed header cannot reach np.load's unpickler
        try:
            payload = npy_pickle_payload(data)
        except TargetError:
            return []
        return [] if payload is None else [(f"{source}[object array]", payload, False)]
    if fmt in (Format.TORCH_ZIP, Format.TORCHSCRIPT, Format.ZIP):
        ts = fmt is Format.TORCHSCRIPT
        return [(f"{source}:{name}", body, ts) for name, body in zip_pickles(data)]
    return [(source, data, False)]


def _scan_stream(
    data: bytes,
    label: str,
    acc: _Accumulator,
    *,
    torchscript: bool,
    use_fickling: bool,
    max_pickles: int | None = None,
) -> None:
    """Walk every consecutive pickle in `data` (torch's legacy format stacks several);
    `max_pickles` stops before raw bytes that follow a known number of pickles."""
    start, count = 0, 0
    while start < len(data) and (max_pickles is None or count < max_pickles):
        count += 1
        result = PickleWalker(data, start).walk()
        _collect(result, label, acc, torchscript=torchscript, use_fickling=use_fickling)
        if result.issues and result.end <= start + 1:
            break
        start = result.end
        if start >= len(data) or data[start] != 0x80:
            break


def _collect(
    result: WalkResult, label: str, acc: _Accumulator, *, torchscript: bool, use_fickling: bool
) -> None:
    acc.streams += 1
    vouched = not result.issues and not result.nested
    for g in result.globals:
        verdict, reason = classify(g.module, g.name, torchscript=torchscript)
        vouched = vouched and verdict is Verdict.SAFE
        acc.globals.append(GlobalRef(g.module, g.name, g.offset, g.opcode, label, verdict, reason))
    acc.issues.extend(f"{label}: {issue}" for issue in result.issues)
    if use_fickling and (acc.fickling_all or not vouched):
        _fickling(result.opcode_bytes, label, acc, torchscript=torchscript)
    for offset, nested in result.nested:
        _collect(
            nested, f"{label}@{offset}", acc, torchscript=torchscript, use_fickling=use_fickling
        )


def _report(source: str, fmt: str, acc: _Accumulator) -> PickleScanReport:
    verdicts = [g.verdict for g in acc.globals]
    verdicts += [_issue_verdict(i) for i in acc.issues]
    if acc.fickling:
        verdicts.append(Verdict.UNSAFE)
    level = max(acc.fickling_levels, key=_FICKLING_ORDER.index, default=None)
    if acc.fickling_errors:
        level = "ERROR"
    return PickleScanReport(
        source=source,
        format=fmt,
        verdict=worst(verdicts),
        globals=tuple(acc.globals),
        issues=tuple(acc.issues),
        fickling_verdict=level,
        fickling_issues=tuple(acc.fickling + acc.fickling_errors),
        streams=acc.streams,
    )


def _issue_verdict(issue: str) -> Verdict:
    return Verdict.UNSAFE if "BUILD at offset" in issue else Verdict.SUSPICIOUS


# -- fickling -----------------------------------------------------------------------------
_FICKLING_ORDER = [
    "LIKELY_SAFE",
    "POSSIBLY_UNSAFE",
    "SUSPICIOUS",
    "LIKELY_UNSAFE",
    "LIKELY_OVERTLY_MALICIOUS",
    "OVERTLY_MALICIOUS",
]
_FICKLING_UNSAFE = frozenset(_FICKLING_ORDER[4:])
# fickling rates any non-stdlib import and call "likely unsafe" (every sklearn model), and it
# distrusts joblib's own array wrapper; import findings about allowlisted globals are dropped.
_IMPORT_ANALYSES = frozenset({"UnsafeImports", "UnsafeImportsML", "NonStandardImports"})


def _fickling(opcodes: bytes, label: str, acc: _Accumulator, *, torchscript: bool) -> None:
    """Run fickling's analyses; findings at 'likely overtly malicious' or above are unsafe."""
    try:
        from fickling.analysis import check_safety
        from fickling.fickle import Pickled

        pickled = Pickled.load(opcodes, fail_on_decode_error=False)
        results = check_safety(pickled).results
    except Exception as exc:  # fickling is a second opinion; its failure is not fatal
        acc.fickling_errors.append(f"{label}: fickling failed ({type(exc).__name__}: {exc})")
        return
    level = "LIKELY_SAFE"
    for r in results:
        name = str(r.severity.name)
        if name in _FICKLING_UNSAFE and _allowlisted_import(
            r.analysis_name, r.trigger, torchscript
        ):
            continue
        level = max(level, name, key=_FICKLING_ORDER.index)
        if name in _FICKLING_UNSAFE:
            acc.fickling.append(f"{label}: {r.message}")
    acc.fickling_levels.append(level)


def _allowlisted_import(analysis: str | None, trigger: str | None, torchscript: bool) -> bool:
    """True for a fickling import finding like `from M import N` where M.N is allowlisted."""
    if analysis not in _IMPORT_ANALYSES or not trigger or not trigger.startswith("from "):
        return False
    module, _, names = trigger[5:].partition(" import ")
    parts = [n.strip() for n in names.split(",")]
    return bool(parts) and all(
        classify(module, n, torchscript=torchscript)[0] is Verdict.SAFE for n in parts
    )
