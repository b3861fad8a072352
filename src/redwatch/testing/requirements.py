"""Optional stacks in tests: skip loudly, naming the extra to install, or fail under CI,
where `make test` installs every extra and nothing may skip."""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import an optional module for a test, or skip/fail naming the redwatch extra."""
    import pytest

    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{module} is not installed: install redwatch[{extra}] (make test installs all)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)
