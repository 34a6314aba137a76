"""A scan of every table for anything that looks like a raw payload."""

from __future__ import annotations

import re

import sqlalchemy as sa

BASE64_RUN = re.compile(r"[A-Za-z0-9+/=_-]{101,}")


def find_raw_payloads(engine: sa.Engine) -> list[str]:
    """Every cell of every table that holds a base64 run over 100 characters or binary data."""
    problems: list[str] = []
    inspector = sa.inspect(engine)
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            if table == "alembic_version":
                continue
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes | bytearray | memoryview):
                        problems.append(f"{table}.{column}: binary value")
                    elif BASE64_RUN.search(str(value)):
                        problems.append(f"{table}.{column}: base64-like run")
    return problems
