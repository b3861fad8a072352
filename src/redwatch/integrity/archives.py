"""zip and tar containers: member names (and tar link targets) that escape the extraction
folder, plus the member bytes so that the caller can scan each one by its own content.
Nothing is extracted to disk."""

from __future__ import annotations

import io
import tarfile
import zipfile

from redwatch.integrity.artifact_report import ScanItem
from redwatch.integrity.onnx_scan import escapes
from redwatch.integrity.pickle_policy import Verdict

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 4 * 1024**3

Members = list[tuple[str, bytes]]


def _traversal(name: str, what: str = "member") -> ScanItem:
    return ScanItem(
        "archive-traversal",
        Verdict.UNSAFE,
        f"{what} {name!r} would be written outside the extraction folder",
        location=name,
        symbol=name,
    )


def zip_members(data: bytes) -> tuple[list[ScanItem], Members]:
    """Traversal items and (name, bytes) of the regular members of a zip archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [ScanItem("archive-parse", Verdict.SUSPICIOUS, f"cannot read zip: {exc}")], []
    items = [_traversal(i.filename) for i in infos if escapes(i.filename)]
    items += _limits(len(infos), sum(i.file_size for i in infos))
    if len(items) and any(i.kind == "archive-limit" for i in items):
        return items, []
    members: Members = []
    for info in infos:
        if info.is_dir():
            continue
        try:
            members.append((info.filename, archive.read(info)))
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            items.append(_unreadable(info.filename, exc))
    return items, members


def tar_members(data: bytes) -> tuple[list[ScanItem], Members]:
    """Traversal items (names and link targets) and the regular members of a tar archive."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 (in memory)
        infos = archive.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        return [ScanItem("archive-parse", Verdict.SUSPICIOUS, f"cannot read tar: {exc}")], []
    items = [_traversal(i.name) for i in infos if escapes(i.name)]
    items += [_link(i) for i in infos if (i.issym() or i.islnk()) and _link_escapes(i)]
    items += [_special(i) for i in infos if i.ischr() or i.isblk() or i.isfifo()]
    items += _limits(len(infos), sum(i.size for i in infos if i.isfile()))
    if any(i.kind == "archive-limit" for i in items):
        return items, []
    members: Members = []
    for info in infos:
        if not info.isfile():
            continue
        handle = archive.extractfile(info)
        if handle is not None:
            members.append((info.name, handle.read()))
    return items, members


def _link_escapes(info: tarfile.TarInfo) -> bool:
    target = info.linkname
    if info.issym():  # a symlink's target is relative to the link's own folder
        parent = info.name.rsplit("/", 1)[0] if "/" in info.name else ""
        target = f"{parent}/{target}" if parent and not target.startswith("/") else target
    return escapes(_normalise(target))


def _normalise(path: str) -> str:
    """Collapse `a/../b` so that only a net climb above the root counts as escaping."""
    if path.startswith("/"):
        return path
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if not parts or parts[-1] == "..":
                parts.append("..")
            else:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _link(info: tarfile.TarInfo) -> ScanItem:
    return ScanItem(
        "archive-traversal",
        Verdict.UNSAFE,
        f"link {info.name!r} points outside the extraction folder ({info.linkname!r})",
        location=info.name,
        symbol=info.linkname,
    )


def _special(info: tarfile.TarInfo) -> ScanItem:
    return ScanItem(
        "archive-special-file",
        Verdict.SUSPICIOUS,
        f"member {info.name!r} is a device or FIFO",
        location=info.name,
    )


def _limits(count: int, total: int) -> list[ScanItem]:
    if count > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
        return [
            ScanItem(
                "archive-limit",
                Verdict.SUSPICIOUS,
                f"archive has {count} members / {total} bytes, beyond the scan limits",
            )
        ]
    return []


def _unreadable(name: str, exc: Exception) -> ScanItem:
    return ScanItem(
        "archive-parse", Verdict.SUSPICIOUS, f"cannot read member {name!r}: {exc}", location=name
    )
