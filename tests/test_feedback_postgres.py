"""Feedback against a real PostgreSQL server (a throwaway cluster on loopback, psycopg): many writers,
bad input refused by name, nothing spooled, the CSV export; what `CIMIC_FEEDBACK_DB=postgresql+psycopg://...`
promises for several replicas. (The conversation and practice stores run their tests on it too, through
the `database_url` fixture.)"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import fresh_database

from assistant.errors import InvalidFeedback
from assistant.userdata.feedback import Feedback, FeedbackStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg_url(postgres_server):
    return fresh_database(postgres_server)


def entry(i=0, rating="down", comment=""):
    return Feedback(rating=rating, question=f"question {i}", answer="An answer. [1]", comment=comment,
                    citations=[{"n": 1, "doc_id": "d", "title": "T", "section": "S", "chunk_id": "c"}])


def test_thousand_writes_from_twenty_threads_and_two_stores(pg_url):
    """Two stores stand for two app replicas writing to one database."""
    first, second = FeedbackStore(pg_url), FeedbackStore(pg_url)
    before = first.count()
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda i: (first if i % 2 else second).add(entry(i)), range(1000)))
    assert outcomes == ["stored"] * 1000
    assert first.count() == second.count() == before + 1000 and first.pending() == 0


def test_bad_feedback_is_refused_by_name_and_nothing_is_stored(pg_url):
    store = FeedbackStore(pg_url)
    before = store.count()
    with pytest.raises(InvalidFeedback, match="not valid text"):
        store.add(entry(comment="x \ud800 y"))
    with pytest.raises(InvalidFeedback, match="grounding"):
        store.add(Feedback(rating="up", question="q", answer="a", citations=[], grounding=float("inf")))
    with pytest.raises(InvalidFeedback, match="2,000"):
        store.add(entry(comment="x" * 2001))
    assert store.count() == before and store.pending() == 0


def test_listing_and_export(pg_url, tmp_path):
    import csv

    store = FeedbackStore(pg_url)
    store.add(entry(5001, rating="up", comment="=HYPERLINK(\"http://evil\")"))
    rows = store.list("up", limit=5)
    assert rows[0]["question"] == "question 5001" and rows[0]["citations"][0]["doc_id"] == "d"
    n = store.export_csv(tmp_path / "fb.csv")
    with (tmp_path / "fb.csv").open(encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == n == store.count()
    assert any(r["comment"] == "'=HYPERLINK(\"http://evil\")" for r in exported)
