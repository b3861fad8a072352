"""Pickling for targets that hold an HTTP client and a lock: a copy (a Ray worker's, a
saved registration's) travels without them — the client may hold a key or a session and
neither crosses processes — and opens its own client on first use."""

from __future__ import annotations

import threading
from typing import Any


class ClientState:
    """Mixin: `_client` and `_lock` are left out of the pickled state and remade."""

    _client: Any
    _lock: threading.Lock

    def __getstate__(self) -> dict[str, Any]:
        """The picklable state: without the client and the lock."""
        state = self.__dict__.copy()
        state["_client"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a copy: a fresh lock; the client opens on first use."""
        self.__dict__.update(state)
        self._lock = threading.Lock()
