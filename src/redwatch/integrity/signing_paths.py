"""Paths for model signing: default signature location, ignored paths, and a readability walk.

model-signing raises generic errors deep inside hashing when a path is a symlink, a special
file or unreadable; walking the tree first names the offending path in one line instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from redwatch.exceptions import TargetError, UsageError

SIGNATURE_NAME = "model.sig"


def default_signature_path(model: Path) -> Path:
    """DIR/model.sig inside a model folder (as model-signing names it); FILE.sig beside a file."""
    if model.is_dir():
        return model / SIGNATURE_NAME
    return model.with_name(model.name + ".sig")


def existing_model(model: Path) -> Path:
    """The model path itself, or UsageError when there is nothing there."""
    if not model.exists() and not model.is_symlink():
        raise UsageError(f"model path not found: {model}")
    return model


def ignored_inside(model: Path, signature: Path) -> list[Path]:
    """The signature's path relative to a model folder when it lies inside it, else nothing.

    This mirrors the model-signing CLI, which never hashes its own signature file.
    """
    root = model.resolve()
    target = signature.resolve()
    if target == root:
        raise UsageError(f"the signature file cannot be the model itself: {signature}")
    try:
        return [target.relative_to(root)]
    except ValueError:
        return []


def check_tree(model: Path, *, allow_symlinks: bool = False) -> None:
    """TargetError naming the first path that hashing could not read as a plain file or folder."""
    if model.is_symlink() and not allow_symlinks:
        raise TargetError(f"model path is a symbolic link; pass the real path: {model.resolve()}")
    _check_entry(model, allow_symlinks)
    if not model.is_dir():
        return
    for folder, dirs, files in os.walk(model, onerror=_raise_walk_error, followlinks=False):
        for name in sorted(dirs) + sorted(files):
            _check_entry(Path(folder) / name, allow_symlinks)


def _check_entry(path: Path, allow_symlinks: bool) -> None:
    if path.is_symlink():
        if not allow_symlinks:
            raise TargetError(f"model contains a symbolic link, which signing refuses: {path}")
        if not path.exists():
            raise TargetError(f"model contains a broken symbolic link: {path}")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise TargetError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        if not os.access(path, os.R_OK | os.X_OK):
            raise TargetError(f"cannot read folder {path}: permission denied")
    elif not stat.S_ISREG(mode):
        raise TargetError(f"model contains a special file (not a regular file): {path}")
    elif not os.access(path, os.R_OK):
        raise TargetError(f"cannot read {path}: permission denied")


def _raise_walk_error(exc: OSError) -> None:
    raise TargetError(f"cannot read {exc.filename}: {exc.strerror}")
