"""Two app replicas on loopback sharing one `chroma run` server and one PostgreSQL database: feedback
written through both is all stored once, and a document ingested into the shared index is answered by
a replica that was running before, without a restart."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import chroma_service, cimic_server, free_port, indexed_env, postgres_cluster

from assistant.feedback import FeedbackStore

pytestmark = pytest.mark.slow

NEW_DOC = """# Zyxwv harbour liaison

The Zyxwv harbour liaison cell was set up in 2019 to coordinate ship movements with the port authority.
It meets the harbour master every Tuesday and keeps a register of civilian vessels in the port.
"""


def test_two_replicas_share_feedback_and_index(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    port = free_port()
    with chroma_service(tmp_path / "chroma-data", port), postgres_cluster() as pg:
        env = indexed_env(tmp_path, CIMIC_CHROMA_URL=f"http://127.0.0.1:{port}", CIMIC_FEEDBACK_DB=pg)
        (url_a, replica_a), (url_b, replica_b) = cimic_server(env), cimic_server(env)
        with replica_a as proc_a, replica_b as proc_b:
            body = {"rating": "down", "question": "What is CMI?", "answer": "Civil-military interaction. [1]"}

            def send(i):
                url = url_a if i % 2 else url_b
                return httpx.post(f"{url}/api/feedback", json={**body, "comment": f"c{i}"}, timeout=60).json()["status"]

            with ThreadPoolExecutor(20) as pool:
                outcomes = list(pool.map(send, range(1000)))
            assert outcomes.count("stored") == 1000
            assert FeedbackStore(pg).count() == 1000

            question = {"question": "When was the Zyxwv harbour liaison cell set up?"}
            assert "2019" not in httpx.post(f"{url_b}/api/ask", json=question, timeout=60).json()["answer"]
            (tmp_path / "knowledge" / "zyxwv-harbour.md").write_text(NEW_DOC, encoding="utf-8")
            subprocess.run([sys.executable, "-m", "assistant.cli", "ingest"], cwd=ROOT, env=env, check=True,
                           capture_output=True)
            deadline, answer = time.time() + 60, {}
            while time.time() < deadline:  # the replica notices the new index within seconds, no restart
                answer = httpx.post(f"{url_b}/api/ask", json=question, timeout=60).json()
                if not answer["refused"] and "2019" in answer["answer"]:
                    break
                time.sleep(1)
            assert not answer["refused"] and "2019" in answer["answer"], answer["answer"]
            assert any("Zyxwv" in c["title"] or "zyxwv" in c["doc_id"] for c in answer["citations"])
            assert proc_a.poll() is None and proc_b.poll() is None
