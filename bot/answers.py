"""Answers kept on the server for their buttons, behind short keys (Telegram allows 64 bytes of button data)."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from index import Answer, Conversation, Where

__all__ = ["QUOTES_PER_QUESTION", "AnswerStore", "StoredAnswer"]

# The deepest an answer is ever asked; "More quotes" pages through at most this many.
QUOTES_PER_QUESTION = 10


@dataclass(frozen=True)
class StoredAnswer:
    """An answer kept for its buttons, with the ``k`` it was asked with and the chat and user who asked."""

    answer: Answer
    depth: int
    chat_id: int
    user_id: int | None
    # What the question was asked with, so that "More quotes" asks it the same way again.
    conversation: Conversation | None = None
    where: Where | None = None

    @property
    def complete(self) -> bool:
        """Whether asking deeper could give more quotes."""
        return len(self.answer.quotes) < self.depth or self.depth >= QUOTES_PER_QUESTION


class AnswerStore:
    """Answers behind short random keys for their buttons: a bounded LRU whose entries expire.

    Each asker has a share: past ``per_user`` entries, their own least recently used goes first, so one user's
    flood replaces only their own buttons; past ``capacity`` in all, the least recently used of anyone's goes.
    The asker is the answer's user, or its chat when there is no user.
    """

    def __init__(self, *, capacity: int = 10_000, per_user: int = 500, lifetime: float = 24 * 3600) -> None:
        self._capacity = capacity
        self._per_user = per_user
        self._lifetime = lifetime
        self._entries: OrderedDict[str, tuple[float, StoredAnswer]] = OrderedDict()
        # Each asker's keys, least recently used first.
        self._by_owner: dict[int, OrderedDict[str, None]] = {}

    def put(self, stored: StoredAnswer, *, key: str | None = None) -> str:
        """Keep ``stored`` (under ``key`` to replace an entry) and return its key, 8 URL-safe characters."""
        key = key or secrets.token_urlsafe(6)
        self._discard(key)
        self._entries[key] = (time.monotonic(), stored)
        owned = self._by_owner.setdefault(_owner(stored), OrderedDict())
        owned[key] = None
        while len(owned) > self._per_user:
            self._discard(next(iter(owned)))
        while len(self._entries) > self._capacity:
            self._discard(next(iter(self._entries)))
        return key

    def get(self, key: str) -> StoredAnswer | None:
        """The answer kept under ``key``, or None when it was evicted, expired or never existed."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, stored = entry
        if time.monotonic() - stored_at > self._lifetime:
            self._discard(key)
            return None
        self._entries.move_to_end(key)
        self._by_owner[_owner(stored)].move_to_end(key)
        return stored

    def owned_by(self, user_id: int) -> int:
        """How many answers this user's (or, with no user, this chat's) buttons are kept for."""
        return len(self._by_owner.get(user_id, ()))

    def __len__(self) -> int:
        return len(self._entries)

    def _discard(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        owner = _owner(entry[1])
        owned = self._by_owner[owner]
        del owned[key]
        if not owned:
            del self._by_owner[owner]


def _owner(stored: StoredAnswer) -> int:
    return stored.user_id if stored.user_id is not None else stored.chat_id
