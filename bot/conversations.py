"""Conversations kept per chat and, in groups, per user, for the Telegram bot; forgotten after silence.

A conversation is keyed by (chat id, user id): in a private chat that is the chat, in a group each member has
their own, so nothing of one chat or one member reaches another. A reply to one of the bot's answers continues
*that* answer's conversation (what it was when that answer was sent), whoever replies. Each entry also keeps how
its last question was asked (question, the turns before it, its filter) for /why. Memory is bounded: the least
recently used conversations go first past `capacity`, and any of them after `lifetime` seconds of silence.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from index import Conversation, Where

__all__ = ["SILENCE_SECONDS", "Asked", "ConversationStore"]

SILENCE_SECONDS = 30 * 60
Key = tuple[int, int | None]
K = TypeVar("K")


@dataclass(frozen=True)
class Asked:
    """How a question was asked: what /why needs to explain its answer."""

    question: str
    conversation: Conversation
    where: Where | None


@dataclass(frozen=True)
class _Entry:
    at: float
    conversation: Conversation
    asked: Asked | None


class ConversationStore:
    """The current conversation of each (chat, user), and the conversation behind each answer message."""

    def __init__(
        self,
        *,
        lifetime: float = SILENCE_SECONDS,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lifetime = lifetime
        self._capacity = capacity
        self._clock = clock
        self._current: OrderedDict[Key, _Entry] = OrderedDict()
        # (chat id, message id) of an answer -> the conversation with that answer as its last turn.
        self._messages: OrderedDict[tuple[int, int], _Entry] = OrderedDict()

    def conversation(self, chat_id: int, user_id: int | None, *, replying_to: int | None = None) -> Conversation:
        """The turns a new question of this user in this chat continues (those of the answer it replies to)."""
        if replying_to is not None:
            entry = self._fresh(self._messages, (chat_id, replying_to))
            if entry is not None:
                return entry.conversation
        entry = self._fresh(self._current, (chat_id, user_id))
        return entry.conversation if entry is not None else Conversation()

    def answered(
        self, chat_id: int, user_id: int | None, asked: Asked, conversation: Conversation, message_ids: list[int]
    ) -> None:
        """Record that `asked` was answered: `conversation` (ending with that answer) is now this user's."""
        entry = _Entry(self._clock(), conversation, asked)
        self._put(self._current, (chat_id, user_id), entry)
        for message_id in message_ids:
            self._put(self._messages, (chat_id, message_id), entry)

    def last_asked(self, chat_id: int, user_id: int | None) -> Asked | None:
        entry = self._fresh(self._current, (chat_id, user_id))
        return entry.asked if entry is not None else None

    def forget(self, chat_id: int, user_id: int | None) -> None:
        """/new: this user's conversation in this chat starts afresh (replies to old answers still continue them)."""
        self._current.pop((chat_id, user_id), None)

    def __len__(self) -> int:
        return len(self._current)

    def _fresh(self, table: OrderedDict[K, _Entry], key: K) -> _Entry | None:
        entry = table.get(key)
        if entry is None:
            return None
        if self._clock() - entry.at > self._lifetime:
            del table[key]
            return None
        table.move_to_end(key)
        return entry

    def _put(self, table: OrderedDict[K, _Entry], key: K, entry: _Entry) -> None:
        table[key] = entry
        table.move_to_end(key)
        while len(table) > self._capacity:
            table.popitem(last=False)
