"""The REST API over HTTP against the real app (real index, real embedder, extractive back-end)."""

import subprocess
import sys

import httpx
import pytest

from conftest import ROOT, free_port, http_service

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import os
    import shutil

    tmp = tmp_path_factory.mktemp("api")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    env = dict(os.environ, CIMIC_KNOWLEDGE_DIR=str(tmp / "knowledge"), CIMIC_STORE_DIR=str(tmp / "index"),
               CIMIC_LLM_BACKEND="extractive")
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest"], cwd=ROOT, env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", url.rsplit(":", 1)[1]]
    with http_service(cmd, f"{url}/api/health", "cimic serve", cwd=ROOT, env=env):
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


def test_glossary_lookup(server):
    r = httpx.get(f"{server}/api/glossary", params={"q": "CMI"}).json()
    assert r["entries"][0]["term"] == "Civil-Military Interaction (CMI)"
