"""The REST API over HTTP against the real app (real index, real embedder, extractive back-end), with
and without a login, CORS and frame-ancestors."""

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import ROOT, basic, cimic_server, indexed_env

pytestmark = pytest.mark.slow


INTRANET = "http://intranet.example"


@pytest.fixture(scope="module")
def index_env(tmp_path_factory):
    """A private knowledge copy and index, built once for the module's servers."""
    tmp = tmp_path_factory.mktemp("api")
    return tmp, indexed_env(tmp)


@pytest.fixture(scope="module")
def server(index_env):
    tmp, env = index_env
    url, service = cimic_server(dict(env, GRADIO_TEMP_DIR=str(tmp / "gradio-uploads")))
    with service:
        yield url


@pytest.fixture(scope="module")
def locked_server(index_env):
    """The same app behind a login, with one instructor, embeddable by one intranet origin."""
    tmp, env = index_env
    env = dict(env, CIMIC_AUTH="trainee:t-pass,instructor:i-pass", CIMIC_INSTRUCTORS="instructor",
               CIMIC_ALLOWED_ORIGINS=INTRANET, CIMIC_FEEDBACK_DB=f"sqlite:///{tmp / 'locked-feedback.db'}")
    url, service = cimic_server(env)
    with service:
        yield url


def test_health_and_page(server):
    h = httpx.get(f"{server}/api/health").json()
    assert h["index_loaded"] and h["chunks"] > 60
    assert httpx.get(server + "/").status_code == 200
    assert httpx.get(server + "/docs").status_code == 200


def test_ask_returns_the_answer_contract(server):
    r = httpx.post(f"{server}/api/ask", json={"question": "How many soldiers did the COVID Support Force comprise?"}, timeout=60)
    assert r.status_code == 200
    a = r.json()
    assert {"answer", "refused", "grounding", "citations", "unsupported", "backend", "latency_ms"} <= set(a)
    assert "23,000" in a["answer"] and a["citations"][0]["n"] == 1 and a["citations"][0]["doc_id"]


@pytest.mark.parametrize("body,needle", [
    ({"question": ""}, "empty"), ({"question": "   "}, "empty"), ({"question": "x" * 20000}, "limit"),
    ({"question": 42}, "question"), ({}, "question"), ({"question": "What is CMI?", "history": "nope"}, "history"),
])
def test_bad_requests_get_a_clear_4xx(server, body, needle):
    r = httpx.post(f"{server}/api/ask", json=body, timeout=30)
    assert 400 <= r.status_code < 500 and needle in r.json()["error"]


def test_oversized_body_is_refused(server):
    r = httpx.post(f"{server}/api/ask", content=b'{"question": "' + b"a" * 300_000 + b'"}',
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_chunked_oversized_body_is_refused_without_being_answered(server):
    def chunks():  # no Content-Length: the body arrives in pieces, 1 MB in all
        for _ in range(16):
            yield b'{"question": "' + b"a" * 65_536 if _ == 0 else b"a" * 65_536

    r = httpx.post(f"{server}/api/ask", content=chunks(), headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_uploads_are_refused_whatever_their_size(server, index_env):
    r = httpx.post(f"{server}/gradio_api/upload", files={"files": ("a.txt", b"hello")}, timeout=30)
    assert r.status_code == 403 and "upload" in r.json()["error"]
    big = httpx.post(f"{server}/gradio_api/upload", files={"files": ("big.bin", b"x" * (8 << 20))}, timeout=60)
    assert big.status_code in (403, 413) and big.json()["error"]

    def chunks():
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"c.bin\"\r\n\r\n"
        yield boundary
        for _ in range(64):
            yield b"y" * (128 << 10)
        yield b"\r\n--b--\r\n"

    chunked = httpx.post(f"{server}/gradio_api/upload", content=chunks(), timeout=60,
                         headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert chunked.status_code in (403, 413) and chunked.json()["error"]
    uploads = index_env[0] / "gradio-uploads"
    assert not [p for p in uploads.rglob("*") if p.is_file()], "an anonymous upload reached Gradio's folder"


def test_docs_embed_and_unknown_api_paths(server):
    docs = httpx.get(f"{server}/docs", timeout=30)
    assert docs.status_code == 200 and "/api/ask" in docs.text and "cdn" not in docs.text.lower()
    assert "http" not in docs.text.replace("http-equiv", "")  # nothing fetched from elsewhere
    redoc = httpx.get(f"{server}/redoc", timeout=30)
    assert redoc.status_code == 307 and redoc.headers["location"] == "/docs"
    embed = httpx.get(f"{server}/embed", timeout=30)
    assert embed.status_code == 307 and embed.headers["location"] == "/embed/"
    wrong = httpx.get(f"{server}/api/ask", timeout=30)
    assert wrong.status_code == 405 and "POST" in wrong.json()["error"]
    missing = httpx.get(f"{server}/api/nothing-here", timeout=30)
    assert missing.status_code == 404 and "no API endpoint" in missing.json()["error"]


def test_feedback_that_cannot_be_stored_gets_a_clear_4xx(server):
    surrogate = httpx.post(f"{server}/api/feedback", timeout=30, headers={"content-type": "application/json"},
                           content=b'{"rating": "down", "question": "q", "answer": "a", "comment": "x \\ud800 y"}')
    assert surrogate.status_code == 422 and "not valid text" in surrogate.json()["error"]
    infinite = httpx.post(f"{server}/api/feedback", timeout=30, headers={"content-type": "application/json"},
                          content=b'{"rating": "down", "question": "q", "answer": "a", "grounding": 1e999}')
    assert infinite.status_code == 422 and "grounding" in infinite.json()["error"]


def test_glossary_lookup(server):
    r = httpx.get(f"{server}/api/glossary", params={"q": "CMI"}).json()
    assert r["entries"][0]["term"] == "Civil-Military Interaction (CMI)"


def test_stream_sends_tokens_then_the_answer(server):
    with httpx.stream("POST", f"{server}/api/ask/stream", json={"question": "What was Operation Rescript?"}, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in r.iter_lines() if line.strip()]
    assert events[0]["type"] == "token" and events[-1]["type"] == "answer"
    assert "Rescript" in events[-1]["answer"]["answer"] and events[-1]["answer"]["citations"]


def test_stream_rejects_bad_input_before_streaming(server):
    r = httpx.post(f"{server}/api/ask/stream", json={"question": "  "}, timeout=30)
    assert r.status_code == 422 and "empty" in r.json()["error"]


def test_backend_field_is_honoured(server):
    ok = httpx.post(f"{server}/api/ask", json={"question": "What is CMI?", "backend": "extractive"}, timeout=60)
    assert ok.status_code == 200 and ok.json()["backend"].startswith("extractive")
    for heavier in ("openai", "local"):  # the server runs extractive: a caller cannot make it load a model
        bad = httpx.post(f"{server}/api/ask", json={"question": "What is CMI?", "backend": heavier}, timeout=60)
        assert bad.status_code == 422 and "extractive" in bad.json()["error"] and heavier in bad.json()["error"]
    assert httpx.get(f"{server}/api/health", timeout=30).json()["backend"] == "extractive"
    unknown = httpx.post(f"{server}/api/ask", json={"question": "What is CMI?", "backend": "gpt-9"}, timeout=60)
    assert unknown.status_code == 422 and "backend" in unknown.json()["error"]


def test_feedback_is_stored_and_exported(server, index_env, tmp_path):
    tmp, env = index_env
    answer = httpx.post(f"{server}/api/ask", json={"question": "What was Operation Rescript?"}, timeout=60).json()
    body = {"rating": "down", "question": answer["question"], "answer": answer["answer"], "comment": "=cmd|' /C calc'!A0",
            "citations": answer["citations"], "backend": answer["backend"], "grounding": answer["grounding"]}
    assert httpx.post(f"{server}/api/feedback", json=body, timeout=30).json() == {"status": "stored"}
    bad = httpx.post(f"{server}/api/feedback", json={**body, "rating": "meh"}, timeout=30)
    assert bad.status_code == 422 and "rating" in bad.json()["error"]
    # without a login nobody is an instructor: the list stays closed
    closed = httpx.get(f"{server}/api/feedback")
    assert closed.status_code == 403 and "instructor" in closed.json()["error"]
    out = tmp_path / "feedback.csv"
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "feedback", "export", "--csv", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "Operation Rescript" in text and "'=cmd" in text  # a formula in a comment is exported as inert text


def test_concurrent_feedback_loses_nothing(server, index_env):
    tmp, _ = index_env
    db = tmp / "feedback.db"
    before = sqlite3.connect(db).execute("select count(*) from feedback").fetchone()[0]
    body = {"rating": "up", "question": "q", "answer": "a [1]"}

    def send(i):
        return httpx.post(f"{server}/api/feedback", json={**body, "comment": f"c{i}"}, timeout=60).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(send, range(200)))
    assert codes == [200] * 200
    rows = sqlite3.connect(db).execute("select comment from feedback where question = 'q'").fetchall()
    assert sqlite3.connect(db).execute("select count(*) from feedback").fetchone()[0] == before + 200
    assert {r[0] for r in rows} >= {f"c{i}" for i in range(200)}


def test_embedding_headers_without_allowed_origins(server):
    r = httpx.get(server + "/embed/")
    assert r.status_code == 200 and r.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_login_guards_page_and_api(locked_server):
    assert httpx.get(locked_server + "/").status_code == 401
    assert httpx.get(locked_server + "/embed/").status_code == 401
    r = httpx.post(f"{locked_server}/api/ask", json={"question": "What is CMI?"}, timeout=60)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert httpx.get(locked_server + "/", headers=basic("trainee", "wrong")).status_code == 401
    assert httpx.get(locked_server + "/", headers=basic("trainee", "t-pass")).status_code == 200
    ok = httpx.post(f"{locked_server}/api/ask", json={"question": "What is CMI?"}, headers=basic("trainee", "t-pass"), timeout=60)
    assert ok.status_code == 200 and not ok.json()["refused"]
    assert httpx.get(f"{locked_server}/api/health").status_code == 200  # probes need no login


def test_review_needs_an_instructor(locked_server):
    body = {"rating": "down", "question": "What is CMI?", "answer": "Civil-military interaction. [1]"}
    assert httpx.post(f"{locked_server}/api/feedback", json=body, headers=basic("trainee", "t-pass")).status_code == 200
    trainee = httpx.get(f"{locked_server}/api/feedback", headers=basic("trainee", "t-pass"))
    assert trainee.status_code == 403 and "instructor" in trainee.json()["error"]
    rows = httpx.get(f"{locked_server}/api/feedback?rating=down", headers=basic("instructor", "i-pass")).json()["feedback"]
    assert rows[0]["question"] == "What is CMI?" and rows[0]["user"] == "trainee"


def test_a_form_posted_by_another_site_is_refused(locked_server):
    """A page of another origin may make the browser send a form (no preflight) with the saved login."""
    instructor = basic("instructor", "i-pass")
    r = httpx.post(f"{locked_server}/api/documents", headers={"Origin": "http://evil.example", **instructor},
                   files={"file": ("x.txt", b"planted text")})
    assert r.status_code == 403 and "evil.example" in r.json()["error"]
    for origin in ("http://evil.example", "null"):  # "null": a sandboxed frame of another site
        r = httpx.post(f"{locked_server}/api/feedback", headers={"Origin": origin, **instructor},
                       json={"rating": "down", "question": "q", "answer": "a"})
        assert r.status_code == 403, origin
    same = locked_server  # the page itself, and the allowed intranet, may post
    for origin in (same, INTRANET):
        r = httpx.post(f"{locked_server}/api/feedback", headers={"Origin": origin, **instructor},
                       json={"rating": "up", "question": "q", "answer": "a"})
        assert r.status_code == 200, (origin, r.text)


def test_cors_and_frame_ancestors_follow_allowed_origins(locked_server):
    pre = httpx.options(f"{locked_server}/api/ask", headers={"Origin": INTRANET, "Access-Control-Request-Method": "POST",
                                                             "Access-Control-Request-Headers": "authorization,content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == INTRANET
    other = httpx.options(f"{locked_server}/api/ask", headers={"Origin": "http://evil.example",
                                                               "Access-Control-Request-Method": "POST"})
    assert other.headers.get("access-control-allow-origin") != "http://evil.example"
    page = httpx.get(locked_server + "/embed/", headers=basic("trainee", "t-pass"))
    assert page.headers["content-security-policy"] == f"frame-ancestors 'self' {INTRANET}"
    for origin in ("http://localhost:9999", "http://127.0.0.1:5173", "http://evil.example"):  # Gradio's routes too
        config = httpx.get(locked_server + "/config", headers={"Origin": origin, **basic("trainee", "t-pass")})
        assert "access-control-allow-origin" not in config.headers  # a browser lets no script of that origin read it
    mine = httpx.get(locked_server + "/config", headers={"Origin": INTRANET, **basic("trainee", "t-pass")})
    assert mine.status_code == 200
