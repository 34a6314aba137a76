"""The SQLite writer engine: writers of one process queue for the database, and every way a
transaction ends lets the next one in."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from mindsync.storage.engine import create_db_engine, create_session_factory


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (thread INTEGER, i INTEGER)"))
    yield engine
    engine.dispose()


def rows(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM t")).scalar_one())


def test_concurrent_writers_all_commit_without_busy_errors(engine) -> None:
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for i in range(40):
                with engine.begin() as connection:
                    connection.execute(
                        sa.text("INSERT INTO t VALUES (:t, :i)"), {"t": thread, "i": i}
                    )
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert rows(engine) == 8 * 40


def next_writer(engine: sa.Engine) -> None:
    """Write once; a writer lock left held would make this fail with "database is locked"."""
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t VALUES (0, 0)"))


def test_a_rolled_back_transaction_lets_the_next_writer_in(engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t VALUES (1, 1)"))
        raise RuntimeError("the caller failed mid-transaction")
    next_writer(engine)
    assert rows(engine) == 1


def test_a_session_that_commits_then_reads_again_lets_the_next_writer_in(engine) -> None:
    factory = create_session_factory(engine)
    with factory() as session:
        session.execute(sa.text("INSERT INTO t VALUES (2, 2)"))
        session.commit()
        session.execute(sa.text("SELECT count(*) FROM t")).scalar_one()
        session.rollback()
        next_writer(engine)
    assert rows(engine) == 2


def test_a_connection_closed_without_commit_lets_the_next_writer_in(engine) -> None:
    connection = engine.connect()
    connection.execute(sa.text("INSERT INTO t VALUES (3, 3)"))
    connection.close()  # rolled back by the pool
    next_writer(engine)
    assert rows(engine) == 1


def test_an_invalidated_connection_lets_the_next_writer_in(engine) -> None:
    connection = engine.connect()
    connection.execute(sa.text("INSERT INTO t VALUES (4, 4)"))
    connection.invalidate()  # as after a lost connection: the DBAPI connection is gone
    connection.rollback()
    connection.close()
    next_writer(engine)
    assert rows(engine) == 1


def test_waiting_for_an_unreachable_database_backs_off_logs_once_and_gives_up(caplog) -> None:
    import logging

    from mindsync.storage.engine import DatabaseUnavailable, wait_for_database

    down = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    delays: list[float] = []
    log = logging.getLogger("test.wait")
    with caplog.at_level(logging.INFO, logger="test.wait"):
        with pytest.raises(DatabaseUnavailable) as err:
            wait_for_database(down, timeout=3.0, log=log, sleep=delays.append)
    down.dispose()
    assert "\n" not in str(err.value) and "127.0.0.1:1" in str(err.value)
    assert delays and delays == sorted(delays) and delays[0] == 0.5
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None


def test_waiting_for_a_database_that_answers_returns_at_once(engine) -> None:
    from mindsync.storage.engine import wait_for_database

    wait_for_database(engine, timeout=0.1, sleep=lambda _: pytest.fail("must not wait"))
