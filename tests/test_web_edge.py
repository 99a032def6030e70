"""The web edge in process (FastAPI's TestClient over `build_api`, real feedback and conversation stores on
SQLite and PostgreSQL, a scripted assistant, recording fakes for the tutor and the library): every text field
that reaches a store or the pipeline refuses unpaired surrogates and NUL bytes with a 422 naming the field,
before anything is written; a stream always ends with an `answer` or an `error` line; Basic logins are
throttled per user name and per client address (an injected clock, no sleeping); an anonymous server bound
beyond localhost answers to localhost names only unless CIMIC_ALLOWED_HOSTS says otherwise."""

import json

import pytest

from conftest import basic

from assistant.errors import InvalidText, NotAuthenticated, TooManyAttempts
from assistant.web.auth import Auth, LoginThrottle

TRAINEE, INSTRUCTOR = basic("trainee", "t-pass"), basic("instructor", "i-pass")
JSON = {"content-type": "application/json"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class ScriptedAnswer:
    def __init__(self, question):
        self.question = question

    def to_dict(self):
        return {"question": self.question, "answer": "CMI is civil-military interaction. [1]", "refused": False,
                "grounding": 1.0, "citations": [{"n": 1, "doc_id": "d", "title": "T", "section": "S", "text": "p", "score": 0.5}],
                "unsupported": [], "backend": "extractive", "latency_ms": 1}


class ScriptedAssistant:
    """Streams one token, then the answer, or raises `fail` between the two; keeps what it was asked."""

    backend = "extractive"

    def __init__(self, fail: Exception | None = None):
        self.fail = fail
        self.asked = []

    def for_backend(self, name):
        return self

    def ask_stream(self, question, history=None):
        self.asked.append(question)
        yield {"type": "token", "text": "CMI "}
        if self.fail:
            raise self.fail
        yield {"type": "answer", "answer": ScriptedAnswer(question)}


class Recorder:
    """A tutor or a library that records every call and answers nothing of interest."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append(name)
            return {"ok": True}
        return call


@pytest.fixture
def site(database_url, make_settings, tmp_path):
    from fastapi.testclient import TestClient

    from assistant.userdata.conversations import ConversationStore
    from assistant.userdata.feedback import FeedbackStore
    from assistant.web.api import build_api

    settings = make_settings(feedback_db=database_url, data_dir=tmp_path / "data")
    parts = {"assistant": ScriptedAssistant(), "feedback": FeedbackStore(database_url, spool_dir=settings.data_dir),
             "conversations": ConversationStore(database_url), "tutor": Recorder(), "library": Recorder()}
    auth = Auth("trainee:t-pass,instructor:i-pass", instructors="instructor")
    app = build_api(parts["assistant"], [], settings, parts["feedback"], auth, library=parts["library"],
                    conversations=parts["conversations"], tutor=parts["tutor"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, parts


def raw(text: str) -> bytes:
    """A JSON body as a client would send it: a lone surrogate as its \\ud800 escape."""
    return json.dumps(text).encode()


SURROGATE, NUL = "what is cimic \ud800", "what is cimic \u0000"


@pytest.mark.parametrize("bad,needle", [(SURROGATE, "not valid text"), (NUL, "NUL")], ids=["surrogate", "nul"])
def test_unstorable_text_is_refused_by_name_before_anything_is_written(site, bad, needle):
    client, parts = site
    ok = client.post("/api/ask", json={"question": "What is CMI?"}, headers=TRAINEE)
    assert ok.status_code == 200, ok.text
    conv = ok.json()["conversation_id"]
    asked = list(parts["assistant"].asked)

    def refused(method, path, body=None, field="", **kw):
        r = client.request(method, path, headers={**TRAINEE, **JSON, **kw.pop("headers", {})},
                           content=body, **kw)
        assert r.status_code == 422, (path, r.status_code, r.text)
        error = r.json()["error"]
        assert needle in error and f"the {field}" in error, (path, error)

    text = raw(bad).decode()
    refused("POST", "/api/ask", f'{{"question": {text}}}', "question")
    refused("POST", "/api/ask/stream", f'{{"question": {text}}}', "question")
    refused("POST", "/api/ask", f'{{"question": "And when?", "history": [[{text}, null]]}}', "history[0][0]")
    refused("POST", "/api/ask", f'{{"question": "And when?", "conversation_id": {text}}}', "conversation_id")
    refused("PATCH", f"/api/conversations/{conv}", f'{{"title": {text}}}', "title")
    refused("POST", "/api/feedback", f'{{"rating": "down", "question": "q", "answer": "a", "comment": {text}}}', "comment")
    refused("POST", "/api/feedback", f'{{"rating": "down", "question": "q", "answer": "a", "citations": [{{"title": {text}}}]}}',
            "citations[0].title")
    refused("POST", "/api/practice", f'{{"topic": {text}}}', "topic")
    refused("POST", "/api/practice/s1/answer", f'{{"text": {text}}}', "text")
    refused("PATCH", "/api/documents/d1", f'{{"title": {text}}}', "title", headers=INSTRUCTOR)
    if bad == NUL:  # a form and a URL carry NUL (a URL's bytes are decoded with replacement: no surrogate)
        r = client.post("/api/documents", headers=INSTRUCTOR, files={"file": ("a.txt", b"some text")}, data={"title": bad})
        assert r.status_code == 422 and "the title" in r.json()["error"] and "NUL" in r.json()["error"], r.text
        r = client.get("/api/conversations/%00", headers=TRAINEE)
        assert r.status_code == 422 and "conversation_id" in r.json()["error"], r.text

    assert parts["assistant"].asked == asked  # the pipeline never saw them
    assert parts["tutor"].calls == [] and parts["library"].calls == []
    saved = client.get("/api/conversations", headers=TRAINEE).json()["conversations"]
    assert [(c["title"], c["turns"]) for c in saved] == [("What is CMI?", 1)]
    assert parts["feedback"].count() == 0 and parts["feedback"].pending() == 0


def test_the_chat_service_refuses_for_the_page_too(site):
    """The page's handlers ask and rename through the same service: the same refusal, naming the field."""
    from assistant.web.chat_service import ChatService

    _, parts = site
    chat = ChatService(parts["assistant"], parts["conversations"])
    with pytest.raises(InvalidText, match="the question holds a NUL"):
        next(chat.stream(NUL, [], "client:abcdefgh", None))
    with pytest.raises(InvalidText, match="the history"):
        next(chat.stream("And when?", [["q", SURROGATE]], "client:abcdefgh", None))
    _, conv = chat.ask("What is CMI?", [], "client:abcdefgh")
    with pytest.raises(InvalidText, match="the title"):
        chat.rename("client:abcdefgh", conv, NUL)
    assert chat.get("client:abcdefgh", conv)["title"] == "What is CMI?"


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyError("citations")], ids=["runtime", "key"])
def test_a_stream_that_fails_midway_still_ends_with_an_error_line(site, failure):
    client, parts = site
    parts["assistant"].fail = failure
    with client.stream("POST", "/api/ask/stream", json={"question": "What is CMI?"}, headers=TRAINEE) as r:
        assert r.status_code == 200
        events = [json.loads(line) for line in r.iter_lines() if line.strip()]
    assert events[0]["type"] == "token"
    assert events[-1]["type"] == "error" and type(failure).__name__ in events[-1]["error"], events


def test_a_stream_whose_turn_cannot_be_saved_ends_with_an_error_line(site):
    client, parts = site

    def broken(*args):
        raise OSError("disk full")

    parts["conversations"].add_turn = broken
    with client.stream("POST", "/api/ask/stream", json={"question": "What is CMI?"}, headers=TRAINEE) as r:
        events = [json.loads(line) for line in r.iter_lines() if line.strip()]
    assert events[-1]["type"] == "error" and "OSError" in events[-1]["error"], events
    plain = client.post("/api/ask", json={"question": "What is CMI?"}, headers=TRAINEE)
    assert plain.status_code == 500 and "OSError" in plain.json()["error"]  # an {"error"} body, not a plain-text 500


# ---- login throttling ------------------------------------------------------------------------------

def test_the_back_off_doubles_per_user_and_is_cleared_by_a_success():
    clock = Clock()
    throttle = LoginThrottle(free_per_user=3, free_per_address=100, base_s=1, max_s=8, clock=clock)
    for _ in range(3):
        throttle.check("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
    throttle.check("alice", "10.0.0.1")  # three failures are free
    waits = []
    for _ in range(5):
        throttle.failed("alice", "10.0.0.1")
        with pytest.raises(TooManyAttempts) as refused:
            throttle.check("alice", "10.0.0.2")  # another address: the user name is closed all the same
        waits.append(refused.value.retry_after)
        clock.now += refused.value.retry_after
        throttle.check("alice", "10.0.0.2")  # open again once the wait is over
    assert waits == [1, 2, 4, 8, 8]  # doubling, up to max_s
    throttle.check("bob", "10.0.0.1")  # another user from the same address is not held up
    throttle.succeeded("alice", "10.0.0.1")
    throttle.failed("alice", "10.0.0.1")
    throttle.check("alice", "10.0.0.1")  # a success starts the user name's count afresh


def test_the_back_off_per_address_and_forgetting():
    clock = Clock()
    throttle = LoginThrottle(free_per_user=100, free_per_address=4, base_s=2, forget_s=60, clock=clock)
    for i in range(5):  # a different user name each time: only the address adds up
        throttle.failed(f"user{i}", "10.0.0.9")
    with pytest.raises(TooManyAttempts) as refused:
        throttle.check("someone", "10.0.0.9")
    assert refused.value.retry_after == 2 and "address" in refused.value.message
    throttle.check("someone", "10.0.0.8")
    clock.now += 2
    throttle.succeeded("mallory", "10.0.0.9")  # a valid account of the sprayer's own does not clear the address
    throttle.failed("user5", "10.0.0.9")
    with pytest.raises(TooManyAttempts) as refused:
        throttle.check("someone", "10.0.0.9")
    assert refused.value.retry_after == 4
    clock.now += 61  # no failure for longer than forget_s: the address starts afresh
    throttle.failed("user9", "10.0.0.9")
    throttle.check("someone", "10.0.0.9")


def test_sign_in_refuses_before_comparing_the_password():
    clock = Clock()
    auth = Auth("alice:right", throttle=LoginThrottle(free_per_user=2, clock=clock))
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            auth.sign_in(basic("alice", "wrong"), "10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        auth.sign_in(basic("alice", "right"), "10.0.0.1")  # even the right password waits: guessing goes no faster
    assert refused.value.retry_after == 1
    clock.now += 1
    assert auth.sign_in(basic("alice", "right"), "10.0.0.1").name == "alice"
    with pytest.raises(NotAuthenticated):  # no credentials at all: asked to sign in, never counted
        for _ in range(10):
            auth.sign_in({}, "10.0.0.1")
    assert auth.sign_in(basic("alice", "right"), "10.0.0.1").name == "alice"


def test_three_hundred_wrong_passwords_over_http_get_429_with_retry_after(make_settings, tmp_path):
    from fastapi.testclient import TestClient

    from assistant.userdata.feedback import FeedbackStore
    from assistant.web.api import build_api

    clock = Clock()  # frozen: whatever the machine's speed, every attempt falls inside the back-off
    settings = make_settings(data_dir=tmp_path / "data")
    auth = Auth("alice:right", throttle=LoginThrottle(clock=clock))
    app = build_api(ScriptedAssistant(), [], settings, FeedbackStore(settings.feedback_db), auth)
    with TestClient(app) as client:
        codes = [client.get("/api/glossary", headers=basic("alice", f"guess{i}")) for i in range(300)]
        assert [r.status_code for r in codes[:6]] == [401] * 6  # five free failures, the sixth closes the name
        assert {r.status_code for r in codes[6:]} == {429}
        assert codes[-1].headers["retry-after"] == "1" and "too many failed logins" in codes[-1].json()["error"]
        clock.now += 1
        assert client.get("/api/glossary", headers=basic("alice", "right")).status_code == 200


# ---- allowed hosts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bound,login,allowed_hosts,host,status", [
    ("0.0.0.0", None, "", "evil.example", 400),           # anonymous, bound beyond localhost: localhost names only
    ("0.0.0.0", None, "", "localhost:7860", 200),
    ("0.0.0.0", None, "", "127.0.0.1:7860", 200),
    ("0.0.0.0", None, "", "[::1]:7860", 200),
    ("0.0.0.0", None, "cimic.example.org", "cimic.example.org:7860", 200),
    ("0.0.0.0", None, "cimic.example.org", "evil.example", 400),
    ("0.0.0.0", None, ".example.org", "a.example.org", 200),
    ("0.0.0.0", None, "*", "evil.example", 200),
    ("0.0.0.0", "alice:right", "", "cimic.example.org", 200),  # a login stands in the way: off by default
    ("127.0.0.1", None, "", "evil.example", 200),          # only this machine reaches it: off by default
    ("127.0.0.1", None, "localhost", "evil.example", 400),  # but a list is honoured anywhere
])
def test_allowed_hosts(make_settings, tmp_path, bound, login, allowed_hosts, host, status):
    from fastapi.testclient import TestClient

    from assistant.userdata.feedback import FeedbackStore
    from assistant.web.api import build_api

    settings = make_settings(host=bound, auth=login, allowed_hosts=allowed_hosts, data_dir=tmp_path / "data")
    app = build_api(ScriptedAssistant(), [], settings, FeedbackStore(settings.feedback_db))
    with TestClient(app) as client:
        r = client.get("/api/glossary", headers={"host": host, **basic("alice", "right")})
    assert r.status_code == status, r.text
    if status == 400:
        assert "CIMIC_ALLOWED_HOSTS" in r.json()["error"] and "evil.example" in r.json()["error"]



def test_downloads_are_written_under_the_data_folder_and_old_ones_removed(tmp_path):
    """A conversation's export and the class CSV are written under `downloads/` in the data folder, one subfolder
    per call (two users downloading at once never share a file); what is older than an hour is removed by the next
    download, so the folder does not grow with every click or every server start (no clock is waited for: the old
    folder's time is set back)."""
    import os
    import time
    from pathlib import Path
    from types import SimpleNamespace

    from assistant.web.tabs.common import DOWNLOADS_KEPT_S, Page

    page = Page(assistant=None, glossary=[], feedback=None, auth=None, chat=None,
                settings=SimpleNamespace(data_dir=tmp_path))
    first, second = Path(page.download("class.csv", "a,b\n")), Path(page.download("class.csv", "c,d\n"))
    assert first != second and first.name == second.name == "class.csv"
    assert first.parent.parent == second.parent.parent == tmp_path / "downloads"
    assert (first.read_text(encoding="utf-8"), second.read_text(encoding="utf-8")) == ("a,b\n", "c,d\n")
    old = time.time() - DOWNLOADS_KEPT_S - 60
    os.utime(first.parent, (old, old))
    third = Path(page.download("talk.md", "# a talk\n"))
    assert not first.parent.exists() and second.exists() and third.exists()
