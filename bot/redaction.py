"""Keeping the bot token out of everything the process prints: log lines, logged tracebacks, uncaught ones.

The token is part of every Bot API URL, so any library that logs a URL or puts one in an exception message
(python-telegram-bot's "Set Bot API URL", its InvalidToken, httpx's request log) would print it. The front end
calls ``redact_secret(token)`` as soon as it knows the token, before anything can log it.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType

__all__ = ["REPLACEMENT", "RedactSecret", "redact", "redact_secret"]

REPLACEMENT = "[token]"
# The secrets redact_secret was given: the process prints nothing that holds one, so one set for all of it.
_secrets: set[str] = set()


def _pattern(secrets: set[str]) -> re.Pattern[str] | None:
    """Each secret, and a token's part after "1234:", in any letter case.

    PTB capitalises Bot API error messages (str.capitalize lowercases all but the first letter), and a URL
    may carry the colon percent-encoded; the part after the colon is the secret one.
    """
    variants = set(secrets)
    for secret in secrets:
        _, colon, rest = secret.partition(":")
        if colon and len(rest) >= 16:
            variants.add(rest)
    if not variants:
        return None
    return re.compile("|".join(re.escape(variant) for variant in sorted(variants, key=len, reverse=True)), re.I)


def _replace(pattern: re.Pattern[str] | None, text: str) -> str:
    return text if pattern is None else pattern.sub(REPLACEMENT, text)


class RedactSecret(logging.Filter):
    """A handler filter that replaces a secret in a record's message, its traceback and its stack."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self._pattern = _pattern({secret})

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _replace(self._pattern, message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is rendered once, here, redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _replace(self._pattern, record.exc_text)
        if record.stack_info:
            record.stack_info = _replace(self._pattern, record.stack_info)
        return True


def redact(text: str) -> str:
    """``text`` without any secret given to redact_secret, for messages printed outside logging."""
    return _replace(_pattern(_secrets), text)


def redact_secret(secret: str) -> None:
    """Redact ``secret`` from every root log handler's output, from uncaught tracebacks and from ``redact``."""
    if not secret:
        return
    _secrets.add(secret)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, RedactSecret) and existing.secret == secret for existing in handler.filters):
            handler.addFilter(RedactSecret(secret))
    # httpx logs every request URL at INFO, and Bot API URLs contain the token; nothing there is worth keeping.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def excepthook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, error, trace))))

    sys.excepthook = excepthook
