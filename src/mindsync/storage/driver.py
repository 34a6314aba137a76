"""Core statements run on SQLite's own cursor: the same SQL and the same type conversions,
without SQLAlchemy's per-execution work.

Every ``POST /analyze`` of a known user runs two transactions: the context read (the
preferences and the baselines) and the store (the account check, the session, its metrics,
the baselines). On SQLite, SQLAlchemy Core's execution machinery (execution context,
parameter and result processing in Python, events) cost more CPU than SQLite itself: 400 us
for the store transaction against 150 us for the same statements on the ``sqlite3`` cursor
(measured in process, 2026-12-04), in the serving process whose CPU limits throughput.

:class:`DriverStatement` compiles a Core statement once, for one engine's dialect, and runs it
on the DBAPI cursor of a Core connection's transaction, converting parameters and results with
the column types' own processors (so a datetime or a JSON column is stored exactly as Core
stores it: tested). The transaction stays SQLAlchemy's: :func:`driver` begins it through
the connection, so the engine's ``begin`` events (``BEGIN IMMEDIATE`` and this process's
writer lock) run as they always do, and the caller commits or rolls back through the
connection. Errors arrive as SQLAlchemy's exceptions (``IntegrityError``,
``OperationalError``), as Core raises them. PostgreSQL keeps Core: a round trip to the server
costs more than SQLAlchemy's work there, and its parameter style is not positional.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Select

Processor = Callable[[Any], Any] | None


class DriverStatement:
    """A Core statement compiled once for ``dialect`` (positional parameters only), with the
    processors of its parameters' and result columns' types."""

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None
    ) -> None:
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        )
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        names = compiled.positiontup
        if names is None:
            raise ValueError(f"{dialect.name}'s parameters are not positional")
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("the statement needs column defaults computed in Python")
        if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
            raise ValueError("the statement is rendered anew for each execution")
        self.sql: str = compiled.string
        self._dialect = dialect
        self._params: list[tuple[str, Processor]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        self._results: list[Processor] = []
        self._row: Any = None
        if isinstance(statement, Select):
            columns = list(statement.selected_columns)
            self._results = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]
            self._row = namedtuple("DriverRow", [c.key for c in columns])  # type: ignore[misc]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """``values`` (by bind name) in the statement's order, converted for the driver."""
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in self._params
        )

    def _fail(self, exc: Exception, params: Any) -> StatementError:
        """``exc`` as Core raises it (``IntegrityError``, ``OperationalError``, ...)."""
        error = self._dialect.loaded_dbapi.Error
        return DBAPIError.instance(self.sql, params, exc, error, dialect=self._dialect)

    def rows(self, cursor: Any, values: Mapping[str, Any]) -> list[Any]:
        """Run a SELECT; its rows (attributes named as the columns' keys), converted as Core
        converts them."""
        if self._row is None:
            raise TypeError("rows() runs a SELECT; use run_many() for other statements")
        params = self.parameters(values)
        try:
            raw = cursor.execute(self.sql, params).fetchall()
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._fail(exc, params) from exc
        processors = self._results
        if not any(processors):
            return [self._row._make(row) for row in raw]
        return [
            self._row._make(
                value if process is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in raw
        ]

    def run_many(self, cursor: Any, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run an INSERT, UPDATE or DELETE once per row of ``rows``."""
        params = [self.parameters(values) for values in rows]
        try:
            cursor.executemany(self.sql, params)
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._fail(exc, params) from exc


@lru_cache(maxsize=256)
def driver_statement(
    statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] | None = None
) -> DriverStatement:
    """:class:`DriverStatement` of a module-level statement, compiled once per dialect (and
    per set of inserted columns)."""
    return DriverStatement(statement, dialect, column_keys)


class Driver:
    """The statements of one Core connection's transaction, run on its SQLite cursor."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def rows(self, statement: ClauseElement, values: Mapping[str, Any]) -> list[Any]:
        """The rows of a SELECT (see :meth:`DriverStatement.rows`)."""
        return driver_statement(statement, self.dialect).rows(self.cursor, values)

    def insert(self, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT of the columns named by the first row's keys, once per row."""
        if rows:
            compiled = driver_statement(statement, self.dialect, tuple(rows[0]))
            compiled.run_many(self.cursor, rows)

    def run_many(self, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an UPDATE or DELETE with bound parameters once per row of ``rows``."""
        if rows:
            driver_statement(statement, self.dialect).run_many(self.cursor, rows)


def driver(db: Any) -> Driver | None:
    """A :class:`Driver` on ``db``'s SQLite connection inside ``db``'s transaction (begun
    through SQLAlchemy when none is, as Core's first statement would begin it), or ``None``
    when ``db`` is not a Core connection to SQLite (then Core runs the statements)."""
    if not isinstance(db, Connection) or db.dialect.name != "sqlite":
        return None
    if not db.in_transaction():
        db.begin()
    return Driver(db.connection.driver_connection.cursor(), db.dialect)  # type: ignore[union-attr]
