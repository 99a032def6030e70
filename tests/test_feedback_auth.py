"""Feedback storage (real SQLite, concurrent writers, a locked database) and the login rules."""

import csv
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import basic

from assistant.web.auth import Auth
from assistant.errors import ConfigError, InvalidFeedback, NotAllowed, NotAuthenticated
from assistant.userdata.feedback import Feedback, FeedbackStore


def entry(i=0, rating="down", comment=""):
    return Feedback(rating=rating, question=f"question {i}", answer="An answer. [1]", comment=comment,
                    citations=[{"n": 1, "doc_id": "d", "title": "T", "section": "S", "chunk_id": "c"}])


def test_thousand_writes_from_twenty_threads_make_thousand_rows(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda i: store.add(entry(i)), range(1000)))
    assert outcomes.count("stored") + outcomes.count("spooled") == 1000
    store.add(entry(1000))  # drains anything spooled
    assert store.count() == 1001 and store.pending() == 0
    assert {r["question"] for r in store.list(limit=5000)} == {f"question {i}" for i in range(1001)}


def test_a_locked_database_loses_nothing(tmp_path):
    db = tmp_path / "fb.db"
    store = FeedbackStore(f"sqlite:///{db}", busy_timeout_s=0.2, retries=2)
    store.add(entry(0))
    blocker = sqlite3.connect(db, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    assert store.add(entry(1, comment="while locked")) == "spooled"
    assert store.pending() == 1
    blocker.rollback()
    blocker.close()
    assert store.add(entry(2)) == "stored"
    assert store.pending() == 0
    assert sorted(r["question"] for r in store.list()) == ["question 0", "question 1", "question 2"]


def test_bad_feedback_is_refused_by_name(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    with pytest.raises(InvalidFeedback, match="rating"):
        store.add(entry(rating="meh"))
    with pytest.raises(InvalidFeedback, match="question and the answer"):
        store.add(Feedback(rating="up", question=" ", answer="", citations=[]))
    with pytest.raises(InvalidFeedback, match="2,000"):
        store.add(entry(comment="x" * 2001))
    assert store.count() == 0


def test_text_that_is_not_unicode_and_impossible_grounding_are_refused_up_front(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    with pytest.raises(InvalidFeedback, match="not valid text"):
        store.add(entry(comment="x \ud800 y"))
    for bad in (float("inf"), float("nan"), 1e999, -0.5, 7.0):
        with pytest.raises(InvalidFeedback, match="grounding"):
            store.add(Feedback(rating="up", question="q", answer="a", citations=[], grounding=bad))
    assert store.count() == 0 and store.pending() == 0
    assert store.add(entry(1)) == "stored" and store.count() == 1


def test_a_spooled_entry_that_can_never_be_stored_does_not_block_the_others(tmp_path):
    """A spool written by an earlier version with a lone surrogate in it: set aside, the rest written once."""
    import json

    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    good = entry(7).validated().row()
    bad = {**good, "comment": "x \ud800 y"}
    spool = tmp_path / "fb.db.spool.jsonl"
    spool.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    assert store.add(entry(8)) == "stored"
    assert store.count() == 2 and store.pending() == 0
    assert sorted(r["question"] for r in store.list()) == ["question 7", "question 8"]
    assert (tmp_path / "fb.db.spool.rejected.jsonl").exists()
    assert store.add(entry(9)) == "stored" and store.count() == 3  # each entry written once


def test_rows_stored_with_an_infinite_grounding_are_listed(tmp_path):
    import sqlite3 as sq

    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    store.add(entry(1))
    with sq.connect(tmp_path / "fb.db") as conn:
        conn.execute("UPDATE feedback SET grounding = 9e999")
    rows = store.list("down")
    assert rows and rows[0]["grounding"] is None


def test_export_csv_writes_every_row_with_formulas_made_inert(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    store.add(entry(1, comment="=HYPERLINK(\"http://evil\")"))
    store.add(entry(2, rating="up", comment="fine"))
    assert store.export_csv(tmp_path / "out.csv") == 2
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [r["question"] for r in rows] == ["question 1", "question 2"]
    assert rows[0]["comment"].startswith("'=") and rows[0]["citations"] == "[1] T - S"


def test_an_unusable_database_url_is_a_config_error(tmp_path):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match="CIMIC_FEEDBACK_DB"):
        FeedbackStore(f"sqlite:///{tmp_path / 'dir.db'}")


def test_login_rules():
    auth = Auth("trainee:t-pass,instructor:i-pass", instructors="instructor")
    assert auth.identify({}) is None
    assert auth.identify(basic("trainee", "nope")) is None
    assert auth.identify({"authorization": "Basic !!!"}) is None
    assert auth.identify(basic("trainee", "t-pass")).instructor is False
    assert auth.identify(basic("instructor", "i-pass")).instructor is True
    with pytest.raises(NotAuthenticated):
        auth.require({})
    with pytest.raises(NotAllowed, match="instructor"):
        auth.require(basic("trainee", "t-pass"), instructor=True)
    assert auth.require(basic("instructor", "i-pass"), instructor=True).name == "instructor"


def test_proxy_header_and_no_login():
    proxied = Auth(header="X-Forwarded-User", instructors="boss")
    assert proxied.identify({"X-Forwarded-User": "boss"}).instructor
    assert proxied.identify({}) is None
    open_auth = Auth()
    assert open_auth.identify({}).name == "" and not open_auth.enabled
    with pytest.raises(NotAllowed, match="CIMIC_AUTH"):
        open_auth.require({}, instructor=True)
    with pytest.raises(ConfigError, match="user:password"):
        Auth("justaname")
