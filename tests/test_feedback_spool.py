"""The feedback spool on SQLite and PostgreSQL: its folder is configurable (CIMIC_DATA_DIR, default var/ under the
working directory, never inside the package); text that cannot be stored (NUL, unpaired surrogates) is refused
by name before anything is written; an entry the database refuses for its content goes to `.rejected.jsonl` at
once and never blocks the entries behind it; a busy database keeps the spool, in order."""

import json
from pathlib import Path

import pytest

from assistant.errors import ConfigError, InvalidFeedback
from assistant.userdata.feedback import Feedback, FeedbackStore

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"


def entry(i=0, comment=""):
    return Feedback(rating="down", question=f"question {i}", answer="An answer. [1]", comment=comment,
                    citations=[{"n": 1, "doc_id": "d", "title": "T", "section": "S", "chunk_id": "c"}])


def poison(store, url: str) -> None:
    """Make the database refuse one comment for its content, as a constraint of an administrator's would."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        if url.startswith("sqlite"):
            conn.execute(text("CREATE TRIGGER poison BEFORE INSERT ON feedback WHEN NEW.comment = 'poison' "
                              "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END"))
        else:
            conn.execute(text("ALTER TABLE feedback ADD CONSTRAINT poison CHECK (comment <> 'poison')"))


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_the_spool_lives_in_the_data_dir(tmp_path, monkeypatch):
    from assistant.config import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIMIC_DATA_DIR", "spool-here")
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path / "spool-here"
    settings = settings.model_copy(update={"feedback_db": f"sqlite:///{tmp_path / 'db' / 'fb.db'}"})
    assert FeedbackStore.from_settings(settings).spool_path == tmp_path / "spool-here" / "fb.db.spool.jsonl"
    monkeypatch.delenv("CIMIC_DATA_DIR")
    assert Settings(_env_file=None).data_dir == tmp_path / "var"  # by default var/ under the working directory
    unnamed = FeedbackStore("sqlite://")  # a database without a file (PostgreSQL, in memory) and no folder given
    assert unnamed.spool_path == tmp_path / "var" / "feedback.spool.jsonl"
    assert PACKAGE not in unnamed.spool_path.parents


def test_a_data_dir_inside_the_package_is_refused(monkeypatch):
    from assistant.config import Settings

    with pytest.raises(ConfigError, match="inside the installed package"):
        Settings(_env_file=None, data_dir=PACKAGE / "var")


def test_a_locked_database_spools_into_the_data_dir(tmp_path):
    import sqlite3

    db, data = tmp_path / "fb.db", tmp_path / "data"
    store = FeedbackStore(f"sqlite:///{db}", busy_timeout_s=0.2, retries=2, spool_dir=data)
    blocker = sqlite3.connect(db, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    assert store.add(entry(1)) == "spooled"
    assert lines(data / "fb.db.spool.jsonl") and not (tmp_path / "fb.db.spool.jsonl").exists()
    blocker.rollback()
    blocker.close()
    assert store.add(entry(2)) == "stored" and store.count() == 2 and store.pending() == 0


@pytest.mark.parametrize("bad,needle", [("x \u0000 y", "NUL"), ("x \ud800 y", "not valid text")], ids=["nul", "surrogate"])
def test_text_that_cannot_be_stored_is_refused_by_name(database_url, tmp_path, bad, needle):
    store = FeedbackStore(database_url, spool_dir=tmp_path)
    for field in ("comment", "question", "answer"):
        fb = entry(1)
        setattr(fb, field, bad)
        with pytest.raises(InvalidFeedback, match=f"the {field} holds .*{needle}"):
            store.add(fb)
    assert store.count() == 0 and store.pending() == 0 and not lines(tmp_path / "feedback.spool.rejected.jsonl")


def test_an_entry_the_database_refuses_is_set_aside_at_once(database_url, tmp_path):
    store = FeedbackStore(database_url, spool_dir=tmp_path, retries=3)
    poison(store, database_url)
    rejected = store.spool_path.with_name(store.spool_path.stem + ".rejected.jsonl")
    with pytest.raises(InvalidFeedback, match="refused this entry"):
        store.add(entry(1, comment="poison"))
    assert store.pending() == 0 and len(lines(rejected)) == 1  # never spooled, set aside at once
    assert store.add(entry(2)) == "stored" and store.count() == 1


def test_a_refused_entry_in_the_spool_never_blocks_those_behind_it(database_url, tmp_path):
    """A spool left by a busy database (or an earlier version) with entries the database refuses for their content
    (a constraint) or that no database can hold (NUL): set aside, the others written, each once."""
    store = FeedbackStore(database_url, spool_dir=tmp_path)
    poison(store, database_url)
    rows = [entry(7).validated().row(), {**entry(8).validated().row(), "comment": "poison"},
            {**entry(9).validated().row(), "comment": "x \u0000 y"}, entry(10).validated().row()]
    store.spool_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert store.pending() == 4
    assert store.add(entry(11)) == "stored"
    assert store.pending() == 0
    assert sorted(r["question"] for r in store.list()) == ["question 10", "question 11", "question 7"]
    rejected = store.spool_path.with_name(store.spool_path.stem + ".rejected.jsonl")
    assert sorted(json.loads(line)["question"] for line in lines(rejected)) == ["question 8", "question 9"]
    assert store.add(entry(12)) == "stored" and store.count() == 4  # nothing written twice


def test_a_busy_database_keeps_the_rest_of_the_spool_in_order(tmp_path):
    """Written one by one after a refusal, the spool stops at the first sign of a busy database and keeps that
    entry and those behind it."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}", spool_dir=tmp_path)
    poison(store, "sqlite")
    calls = {"n": 0}
    real_begin = store.engine.begin

    def flaky_begin():
        calls["n"] += 1
        if calls["n"] == 3:  # the batch, the poisoned entry, then the database is busy
            from sqlalchemy.exc import OperationalError

            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real_begin()

    rows = [{**entry(1).validated().row(), "comment": "poison"}, entry(2).validated().row(), entry(3).validated().row()]
    store.spool_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store.engine.begin = flaky_begin
    store._drain()
    store.engine.begin = real_begin
    assert [json.loads(line)["question"] for line in lines(store.spool_path)] == ["question 2", "question 3"]
    store._drain()
    assert store.pending() == 0 and sorted(r["question"] for r in store.list()) == ["question 2", "question 3"]
