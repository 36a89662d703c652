"""Reaching the database: the URL as people may see it (no password), and psycopg's errors as the engine's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import psycopg

from index.errors import (
    DiskFull,
    LibraryError,
    LibraryNotFound,
    LibraryUnreachable,
    ReadOnlyLibrary,
)

__all__ = ["INDEX_PARAMETER", "password_of", "redacted", "translated_errors", "without_index_parameter"]

# Our own URL parameter (libpq refuses unknown ones, so it is taken out before connecting): the vector index a
# new library gets, `hnsw` (the default) or `exact`, for servers whose pgvector cannot build HNSW.
INDEX_PARAMETER = "quotebot_index"

_PASSWORD_PARAMETERS = {"password", "passfile"}


def redacted(url: str) -> str:
    """`url` without its password (in the user part or as a `password=` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    # The other parameters stay as written (a socket folder in ?host= reads better unescaped).
    query = "&".join(
        piece for piece in parts.query.split("&") if piece and piece.partition("=")[0] not in _PASSWORD_PARAMETERS
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def without_index_parameter(url: str) -> tuple[str, str | None]:
    """`url` without `quotebot_index=...`, and its value."""
    parts = urlsplit(url)
    kept, value = [], None
    for piece in parts.query.split("&"):
        key, _, given = piece.partition("=")
        if key == INDEX_PARAMETER:
            value = given
        elif piece:
            kept.append(piece)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment)), value


def password_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.password:
        return parts.password
    for key, value in parse_qsl(parts.query):
        if key == "password":
            return value
    return None


def _reason(error: BaseException, password: str | None) -> str:
    """psycopg's message on one line, without the password should the server ever echo it."""
    text = " ".join(str(error).split()) or type(error).__name__
    if password:
        text = text.replace(password, "***")
    return text.removeprefix("connection failed: ")


def as_library_error(error: BaseException, *, location: str, password: str | None) -> LibraryError:
    """The engine's typed error for a database error, its message saying how to fix it."""
    reason = _reason(error, password)
    state = getattr(error, "sqlstate", None) or ""
    refused = "password authentication failed" in reason or ('role "' in reason and "does not exist" in reason)
    if state in ("28P01", "28000") or refused:
        return LibraryUnreachable(
            f"the database server refused the login to {location!r} ({reason}); check the user and password "
            "in the URL (or ~/.pgpass)"
        )
    if state == "3D000" or ("database" in reason and "does not exist" in reason):
        return LibraryNotFound(
            f"the database of {location!r} does not exist ({reason}); create it (createdb NAME) or fix the URL"
        )
    if state == "53100":
        return DiskFull(f"the database server of {location!r} has no disk space left ({reason}); free some, then retry")
    if state in ("25006", "42501"):
        return ReadOnlyLibrary(
            f"{location!r} may not be written by this user or server ({reason}); use the primary server's URL "
            "or a user with write access"
        )
    if state == "0A000" or ("extension" in reason and "vector" in reason):
        return LibraryError(
            f"the database server of {location!r} lacks pgvector ({reason}); install pgvector 0.8 there, or ask "
            "its administrator to run CREATE EXTENSION vector in that database"
        )
    if isinstance(error, psycopg.OperationalError) or state.startswith(("08", "57P")):
        return LibraryUnreachable(
            f"cannot reach the library's database {location!r} ({reason}); check that the server runs and the "
            "URL's host, port and database"
        )
    return LibraryError(f"the library's database {location!r} failed ({reason}); try again, or check its server log")


@contextlib.contextmanager
def translated_errors(*, location: str, password: str | None) -> Iterator[None]:
    """Turn psycopg's (and its pool's) errors into the engine's typed errors."""
    from psycopg_pool import PoolTimeout

    try:
        yield
    except PoolTimeout as error:
        raise LibraryUnreachable(
            f"no connection to the library's database {location!r} came within the wait; check that the server "
            "runs and accepts connections"
        ) from error
    except psycopg.Error as error:
        raise as_library_error(error, location=location, password=password) from error
