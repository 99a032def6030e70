import shutil
import socket
import sys
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
