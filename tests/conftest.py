import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def embedder():
    """The real packaged all-MiniLM-L6-v2, loaded once for the session."""
    from assistant.embeddings import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture
def knowledge(tmp_path) -> Path:
    """A private copy of the bundled knowledge/ folder."""
    dst = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", dst)
    return dst


@pytest.fixture
def make_settings(tmp_path):
    from assistant.config import Settings

    def make(**kw):
        kw.setdefault("knowledge_dir", tmp_path / "knowledge")
        kw.setdefault("store_dir", tmp_path / "index")
        kw.setdefault("feedback_db", f"sqlite:///{tmp_path / 'feedback.db'}")
        return Settings(_env_file=None, **kw)

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_service(cmd: list[str], ready_url: str, what: str, timeout: float = 120, **popen):
    """Start a server process, wait until `ready_url` answers 200, and stop it afterwards."""
    import httpx

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail(f"{what} did not start")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
