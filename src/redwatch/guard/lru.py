"""A size-capped map that forgets the least recently used entry first, so that per-client
state in a stage stays bounded however many clients (or forged ids) show up. Not locked:
callers hold their own lock around a read-modify-write."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruMap(Generic[K, V]):
    """At most `capacity` entries; `get_or_create` refreshes an entry, inserting evicts."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        """The entry (marked as recently used), None when absent."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def get_or_create(self, key: K, factory: Callable[[], V]) -> V:
        """The entry for `key`, made by `factory` (evicting the oldest) when absent."""
        value = self.get(key)
        if value is None:
            value = factory()
            self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Set `key` as the most recent entry, evicting the oldest beyond the capacity."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
            self.evicted += 1

    def pop(self, key: K) -> V | None:
        """Remove and return the entry, None when absent."""
        return self._items.pop(key, None)
