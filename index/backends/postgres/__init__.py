"""A library in PostgreSQL with pgvector (`postgresql://` URLs): for libraries that many processes share."""

from __future__ import annotations

from index.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
