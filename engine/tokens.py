"""Token counts of message texts, kept so a follow-up turn asks the server only about its new message."""

from __future__ import annotations

import threading
from collections import OrderedDict


class TokenCache:
    def __init__(self, size: int = 4096) -> None:
        self._items: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> int | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: int) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
