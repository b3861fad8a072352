"""Persistent store: SQLAlchemy models, Alembic migrations, the Store repository.

SQLite by default (a file under REDWATCH_HOME), PostgreSQL through REDWATCH_DB_URL.
"""

from redwatch.store import service_models  # noqa: F401  (registers the service tables)
from redwatch.store.repository import Store

__all__ = ["Store"]
