"""Persistence: SQLAlchemy Core tables, repositories, the event log and
Alembic migrations. Every repository call takes the workspace explicitly."""
