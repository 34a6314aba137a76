"""DatabaseThreads: where the API's database calls run, off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mindsync.storage.engine import create_db_engine
from mindsync.storage.threads import DatabaseThreads

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


@pytest.fixture
def sqlite_threads(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'threads.db'}")
    with engine.begin() as db:
        db.execute(text("CREATE TABLE item (n INTEGER PRIMARY KEY, thread TEXT)"))
    threads = DatabaseThreads(engine)
    yield engine, threads
    threads.close()
    engine.dispose()


def test_sqlite_writes_run_one_at_a_time_in_order_on_one_thread(sqlite_threads) -> None:  # type: ignore[no-untyped-def]
    engine, threads = sqlite_threads
    running = 0
    overlaps = 0

    def insert(n: int) -> str:
        nonlocal running, overlaps
        running += 1
        overlaps += running > 1
        try:
            with engine.begin() as db:
                db.execute(
                    text("INSERT INTO item VALUES (:n, :t)"),
                    {"n": n, "t": threading.current_thread().name},
                )
            time.sleep(0.001)
        finally:
            running -= 1
        return threading.current_thread().name

    async def main() -> list[str]:
        return await asyncio.gather(*(threads.write(insert, n) for n in range(40)))

    names = asyncio.run(main())
    assert threads.serial
    assert overlaps == 0
    assert len(set(names)) == 1 and names[0] != threading.current_thread().name
    with engine.connect() as db:
        rows = db.execute(text("SELECT n FROM item ORDER BY rowid")).scalars().all()
    assert rows == list(range(40))  # every write landed, in the order asked for


def test_sqlite_reads_have_their_own_thread(sqlite_threads) -> None:  # type: ignore[no-untyped-def]
    engine, threads = sqlite_threads
    in_write = threading.Event()
    release = threading.Event()

    def slow_write() -> None:
        in_write.set()
        release.wait(5)

    def read() -> int:
        with engine.connect() as db:
            return int(db.execute(text("SELECT count(*) FROM item")).scalar_one())

    async def main() -> int:
        writing = asyncio.ensure_future(threads.write(slow_write))
        await asyncio.to_thread(in_write.wait, 5)
        count = await asyncio.wait_for(threads.read(read), 5)  # not queued behind the write
        release.set()
        await writing
        return count

    assert asyncio.run(main()) == 0


def test_a_cancelled_caller_lets_the_write_finish(sqlite_threads) -> None:  # type: ignore[no-untyped-def]
    engine, threads = sqlite_threads
    started = threading.Event()

    def insert() -> None:
        started.set()
        time.sleep(0.05)
        with engine.begin() as db:
            db.execute(text("INSERT INTO item VALUES (1, 'x')"))

    async def main() -> None:
        task = asyncio.ensure_future(threads.write(insert))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    with engine.connect() as db:  # the cancellation came after the commit, not instead of it
        assert db.execute(text("SELECT count(*) FROM item")).scalar_one() == 1


def test_calls_see_the_callers_context_and_raise_its_errors(sqlite_threads) -> None:  # type: ignore[no-untyped-def]
    _, threads = sqlite_threads

    def fail() -> None:
        raise ValueError("no such thing")

    async def main() -> str:
        marker.set("request-7")
        with pytest.raises(ValueError, match="no such thing"):
            await threads.write(fail)
        return await threads.read(marker.get)

    assert asyncio.run(main()) == "request-7"


def test_close_finishes_the_calls_already_asked_for(sqlite_threads) -> None:  # type: ignore[no-untyped-def]
    engine, threads = sqlite_threads
    done: list[int] = []

    def insert(n: int) -> None:
        time.sleep(0.01)
        done.append(n)

    async def main() -> None:
        for n in range(5):
            asyncio.ensure_future(threads.write(insert, n))
        await asyncio.sleep(0)  # the calls are handed to the writer thread
        threads.close()

    asyncio.run(main())
    assert done == [0, 1, 2, 3, 4]


def test_postgresql_calls_run_concurrently_on_one_thread_per_pooled_connection() -> None:
    """PostgreSQL takes concurrent transactions: as many calls are in flight at once as the
    engine keeps connections (no server is needed to see where the calls run)."""
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", pool_size=3)
    threads = DatabaseThreads(engine)
    together = threading.Barrier(3, timeout=5)
    names: set[str] = set()

    def meet() -> int:
        names.add(threading.current_thread().name)
        return together.wait()

    async def main() -> list[int]:
        calls = [threads.write(meet), threads.read(meet), threads.write(meet)]
        return await asyncio.gather(*calls)

    assert not threads.serial
    assert sorted(asyncio.run(main())) == [0, 1, 2]
    assert len(names) == 3
    threads.close()
    engine.dispose()
