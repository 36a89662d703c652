"""Who may ask the bot, and who may press an answer's buttons: the rules and their polite refusals.

Admins may always ask; so may the users in ``QUOTEBOT_USERS`` (anywhere), anyone in a chat in
``QUOTEBOT_CHATS``, and everyone when ``QUOTEBOT_PUBLIC`` is true (``Settings.may_ask``). An answer's buttons
work only in the chat the answer was sent to and, in a group, only for the person who asked.
"""

from __future__ import annotations

from bot.answers import StoredAnswer
from bot.config import Settings

__all__ = ["NOT_YOURS", "OTHER_CHAT", "access_warning", "button_refusal", "stranger_text"]

OTHER_CHAT = "This button belongs to an answer in another chat; please ask the question here."
NOT_YOURS = "Only the person who asked can use these buttons; ask your own question with /ask."


def stranger_text(user_id: int | None, chat_id: int, *, group: bool, html: bool) -> str:
    """The one polite line for someone who may not ask here, with the id(s) an admin would list."""

    def code(value: int) -> str:
        return f"<code>{value}</code>" if html else str(value)

    ids = f"your id {code(user_id)}" if user_id is not None else "you"
    if group:
        ids += f" or this chat's id {code(chat_id)}"
    return f"This bot answers only its team's members; ask an admin to add {ids}."


def button_refusal(stored: StoredAnswer, *, chat_id: int, group: bool, user_id: int | None) -> str | None:
    """Why this press of an answer's button is refused, or None when it is the asker's, in the asker's chat."""
    if chat_id != stored.chat_id:
        return OTHER_CHAT
    if group and user_id != stored.user_id:
        return NOT_YOURS
    return None


def access_warning(settings: Settings) -> str | None:
    """The start-up warning for a bot that answers only its admins, saying how to open it; None otherwise."""
    if not settings.admins_only:
        return None
    who = "only its admins (QUOTEBOT_ADMINS)" if settings.admins else "nobody (QUOTEBOT_ADMINS is empty too)"
    return (
        f"The bot answers {who}: QUOTEBOT_USERS and QUOTEBOT_CHATS are empty and QUOTEBOT_PUBLIC is false; "
        "list user ids in QUOTEBOT_USERS or chat ids in QUOTEBOT_CHATS, or set QUOTEBOT_PUBLIC=true to let anyone ask."
    )
