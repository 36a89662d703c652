"""Where a library lives: a folder (`LocalBackend`) or a PostgreSQL database (`PostgresBackend`)."""

from __future__ import annotations

from pathlib import Path

from index.backends.base import Backend

__all__ = ["Backend", "is_database_url", "open_backend"]

_DATABASE_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str | Path) -> bool:
    """Whether `location` names a PostgreSQL database rather than a folder."""
    return isinstance(location, str) and location.startswith(_DATABASE_SCHEMES)


def open_backend(location: str | Path, *, embedder: str, dimension: int) -> Backend:
    """The backend of the library at `location` (a folder, or a postgresql:// URL), made there when new."""
    if is_database_url(location):
        from index.backends.postgres import PostgresBackend

        backend: Backend = PostgresBackend(str(location), embedder=embedder, dimension=dimension)
        return backend
    from index.backends.local import LocalBackend

    return LocalBackend(Path(location).expanduser(), embedder=embedder, dimension=dimension)
