"""The results store that ``check --history`` appends to and ``history`` reads: SQLAlchemy Core
over an SQLite file (the default, nothing to start) or PostgreSQL (a URL, for a store shared by
many CI runners); a schema with a version table and ordered migrations (``migrations``); and
the change points of a metric's series (``changes``).

Modules: ``tables`` (the schema), ``migrations`` (each schema version's step), ``store`` (open,
identify, create or migrate a store; every database error as one line), ``records`` (a run
written in one transaction, runs read back), ``changes`` (steps of exact metrics by plain
comparison, change points of timed ones with ruptures)."""
