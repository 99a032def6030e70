"""Two app replicas on loopback sharing one `chroma run` server, one PostgreSQL database and one
knowledge folder: feedback written through both is all stored once, and a document an instructor
uploads through one replica is answered by the other, which was running before, without a restart."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import chroma_service, cimic_server, free_port, indexed_env, postgres_cluster

from assistant.userdata.feedback import FeedbackStore

pytestmark = pytest.mark.slow

NEW_DOC = """# Zyxwv harbour liaison

The Zyxwv harbour liaison cell was set up in 2019 to coordinate ship movements with the port authority.
It meets the harbour master every Tuesday and keeps a register of civilian vessels in the port.
"""


INSTRUCTOR, TRAINEE = ("instructor", "i-pass"), ("trainee", "t-pass")


def test_two_replicas_share_feedback_and_index(tmp_path):
    port = free_port()
    with chroma_service(tmp_path / "chroma-data", port), postgres_cluster() as pg:
        env = indexed_env(tmp_path, CIMIC_CHROMA_URL=f"http://127.0.0.1:{port}", CIMIC_FEEDBACK_DB=pg,
                          CIMIC_AUTH="trainee:t-pass,instructor:i-pass", CIMIC_INSTRUCTORS="instructor")
        (url_a, replica_a), (url_b, replica_b) = cimic_server(env), cimic_server(env)
        with replica_a as proc_a, replica_b as proc_b:
            body = {"rating": "down", "question": "What is CMI?", "answer": "Civil-military interaction. [1]"}

            def send(i):
                url = url_a if i % 2 else url_b
                return httpx.post(f"{url}/api/feedback", json={**body, "comment": f"c{i}"}, auth=TRAINEE,
                                  timeout=60).json()["status"]

            with ThreadPoolExecutor(20) as pool:
                outcomes = list(pool.map(send, range(1000)))
            assert outcomes.count("stored") == 1000
            assert FeedbackStore(pg).count() == 1000

            question = {"question": "When was the Zyxwv harbour liaison cell set up?"}
            assert "2019" not in httpx.post(f"{url_b}/api/ask", json=question, auth=TRAINEE, timeout=60).json()["answer"]
            sent = httpx.post(f"{url_a}/api/documents", auth=INSTRUCTOR, timeout=60,
                              files={"file": ("zyxwv-harbour.md", NEW_DOC.encode())}, data={"title": "Zyxwv harbour liaison"})
            assert sent.status_code == 202, sent.text
            deadline, answer = time.time() + 120, {}
            while time.time() < deadline:  # replica B notices the index replica A changed, without a restart
                answer = httpx.post(f"{url_b}/api/ask", json=question, auth=TRAINEE, timeout=60).json()
                if not answer["refused"] and "2019" in answer["answer"]:
                    break
                time.sleep(1)
            assert not answer["refused"] and "2019" in answer["answer"], answer["answer"]
            assert any("Zyxwv" in c["title"] or "zyxwv" in c["doc_id"] for c in answer["citations"])
            assert proc_a.poll() is None and proc_b.poll() is None
