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
    """The real packaged all-MiniLM-L6-v2, as configured (int8 ONNX by default), loaded once for the session."""
    from assistant.config import Settings
    from assistant.index.embeddings import make_embedder

    return make_embedder(Settings(_env_file=None))


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
def http_service(cmd: list[str], ready_url: str, what: str, timeout: float = 120, log: Path | None = None, **popen):
    """Start a server process, wait until `ready_url` answers 200, and stop it afterwards; its output goes
    to `log` when given."""
    import httpx

    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL, **popen)
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
        if log:
            out.close()


def basic(user: str, password: str) -> dict:
    """An HTTP Basic authorization header (lower-case key: `Auth.identify` takes plain dicts too)."""
    import base64

    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def rss_mib(pid: int) -> float:
    """A process's resident memory in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


CIMIC_VARS = ("CIMIC_AUTH", "CIMIC_AUTH_HEADER", "CIMIC_INSTRUCTORS", "CIMIC_ALLOWED_ORIGINS", "CIMIC_CHROMA_URL",
              "CIMIC_LLM_BASE_URL")


def indexed_env(tmp: Path, **overrides) -> dict:
    """Environment for a `cimic` subprocess with a private copy of knowledge/ indexed under `tmp`,
    the extractive back-end and its own feedback database."""
    import os

    if not (tmp / "knowledge").exists():
        shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    env = {k: v for k, v in os.environ.items() if k not in CIMIC_VARS}
    env.update(CIMIC_KNOWLEDGE_DIR=str(tmp / "knowledge"), CIMIC_STORE_DIR=str(tmp / "index"),
               CIMIC_LLM_BACKEND="extractive", CIMIC_FEEDBACK_DB=f"sqlite:///{tmp / 'feedback.db'}")
    env.update(overrides)
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest"], cwd=ROOT, env=env, check=True, capture_output=True)
    return env


def cimic_server(env: dict, log: Path | None = None):
    """(url, context manager) for `cimic serve` on a free loopback port (its output to `log` when given)."""
    url = f"http://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", url.rsplit(":", 1)[1]]
    return url, http_service(cmd, f"{url}/api/health", "cimic serve", log=log, cwd=ROOT, env=env)


def chroma_service(data_dir: Path, port: int):
    """A real `chroma run` server on loopback (context manager), data kept in `data_dir`."""
    chroma = Path(sys.executable).parent / "chroma"
    cmd = [str(chroma), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    return http_service(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat", "chroma run", timeout=60)


@contextmanager
def postgres_cluster():
    """A throwaway PostgreSQL cluster (Debian's server, installed by `make postgres`) on a free loopback
    port, trust authentication, stopped and deleted afterwards. Yields its SQLAlchemy URL (psycopg).
    Its folder is a fresh one under the system temp dir: pytest's own are closed to the postgres user."""
    import glob
    import os
    import tempfile

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.fail("PostgreSQL's server is not installed: run `make postgres` (Debian's postgresql package)")
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="cimic-pg-"))
    data, sockets = root / "pgdata", root / "pgsock"
    data.mkdir(parents=True)
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to Debian's postgres user
        shutil.chown(root, "postgres")
        for d in (data, sockets):
            shutil.chown(d, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(root / "pg.log"),
                              "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL cluster for the whole session (`postgres_cluster`); its URL."""
    with postgres_cluster() as url:
        yield url


def fresh_database(server_url: str) -> str:
    """A new, empty database on the cluster at `server_url`; its URL."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database_url(request, tmp_path):
    """Each database the stores promise: SQLite (a file) and PostgreSQL (an empty database of its own on
    the session's cluster, through psycopg)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return fresh_database(request.getfixturevalue("postgres_server"))


def docx_bytes(heading: str, paragraphs: list[str]) -> bytes:
    """A real .docx (python-docx) with one heading and its paragraphs."""
    import io

    import docx

    d = docx.Document()
    d.add_heading(heading, 1)
    for p in paragraphs:
        d.add_paragraph(p)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A real PDF (reportlab) with one text page per item; an empty string gives a page without text."""
    import io
    import textwrap

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    if title:
        c.setTitle(title)
    for text in pages:
        if text:
            y = 760
            for line in textwrap.wrap(text, 90):
                c.drawString(60, y, line)
                y -= 14
        else:
            c.rect(100, 100, 200, 200, fill=1)  # a drawing, no text: what a scanned page looks like to a text extractor
        c.showPage()
    c.save()
    return out.getvalue()
