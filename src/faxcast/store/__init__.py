"""Persistence: SQLAlchemy tables, the unit of work, blobs and migrations."""
