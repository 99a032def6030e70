"""One way to open the SQL database that feedback and conversations are kept in (`CIMIC_FEEDBACK_DB`).

SQLite by default, in WAL mode with a busy timeout so that readers never wait for the writer; any
SQLAlchemy URL (PostgreSQL for several replicas). `open_engine` returns the engine and, for a SQLite
file, its path (its folder is created); `owned_row` reads a row that belongs to a user.
"""

from __future__ import annotations

from pathlib import Path


def open_engine(url: str, busy_timeout_s: float = 10.0):
    from sqlalchemy import create_engine, event

    sqlite = url.startswith("sqlite")
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s} if sqlite else {}, pool_pre_ping=not sqlite)
    db_file = Path(engine.url.database) if sqlite and engine.url.database not in (None, "", ":memory:") else None
    if db_file:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    if sqlite:
        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn, _):
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return engine, db_file


def owned_row(conn, table, owner: str, row_id: str, missing: str):
    """The row of `table` with this id that belongs to `owner`; NotFound(`missing`) otherwise, so that a
    row of another owner is never told apart from one that does not exist."""
    from sqlalchemy import select

    from assistant.errors import NotFound

    row = conn.execute(select(table).where(table.c.id == str(row_id)[:32], table.c.owner == owner)).first()
    if row is None:
        raise NotFound(missing)
    return row


def safe_url(engine) -> str:
    return engine.url.render_as_string(hide_password=True)
