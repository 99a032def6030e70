"""The Chroma vector store: an embedded persistent store (default) or a `chroma run` server.

Embedded stores live in generations under `store_dir`: an ingest that changes anything copies the
current generation, applies the changes to the copy and then atomically switches the `CURRENT`
pointer, so a process killed at any point leaves the previous index whole. Readers notice a new
generation on their next query. A server store is changed in place, adding new chunks before
removing old ones, so an interrupted ingest never leaves a document missing. Leaves out: Chroma
auth tokens and tenants other than the default.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from assistant.errors import IndexBusy, StoreUnavailable
from assistant.ingest.documents import Chunk

POINTER = "CURRENT"
STATE = "state.json"


@dataclass
class Hit:
    chunk: Chunk
    id: str
    similarity: float


class ChromaStore:
    """One collection; vectors are computed by our embedder, never by Chroma."""

    def __init__(self, client, collection_name: str, embedder_name: str, create: bool):
        self.client = client
        self.embedder_name = embedder_name
        try:
            if create:
                self.collection = client.get_or_create_collection(
                    collection_name, embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}}, metadata={"embedder": embedder_name},
                )
            else:
                self.collection = client.get_collection(collection_name, embedding_function=None)
        except Exception as exc:  # chromadb raises several types for a missing collection or a dead server
            raise StoreUnavailable(f"cannot open the Chroma collection '{collection_name}' ({exc.__class__.__name__}: {exc}); "
                                   "run `cimic ingest` first, or check CIMIC_CHROMA_URL") from exc
        built_with = (self.collection.metadata or {}).get("embedder")
        if built_with and built_with != embedder_name:
            raise StoreUnavailable(f"the index was built with the embedder '{built_with}', not '{embedder_name}'; "
                                   "rebuild it with `cimic ingest --rebuild`")

    def count(self) -> int:
        try:
            return self.collection.count()
        except Exception as exc:  # a Chroma server that stopped: reported, and tried again on the next request
            raise _not_answering(exc) from exc

    def entries(self) -> dict[str, dict]:
        got = self.collection.get(include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"]))

    def chunks(self) -> dict[str, Chunk]:
        got = self.collection.get(include=["metadatas", "documents"])
        return {i: Chunk.from_store(d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def add(self, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        if chunks:
            self.collection.upsert(ids=[c.id for c in chunks], embeddings=vectors,
                                   documents=[c.text for c in chunks], metadatas=[c.metadata() for c in chunks])

    def update_metadata(self, chunks: list[Chunk]) -> None:
        if chunks:
            self.collection.update(ids=[c.id for c in chunks], metadatas=[c.metadata() for c in chunks])

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.collection.delete(ids=ids)

    def query(self, vector: list[float], k: int, doc_id: str | None = None) -> list[Hit]:
        """The k nearest chunks (of one document when `doc_id` is given)."""
        n = min(k, self.count())
        if n == 0:
            return []
        try:
            got = self.collection.query(query_embeddings=[vector], n_results=n, where={"doc_id": doc_id} if doc_id else None,
                                        include=["documents", "metadatas", "distances"])
        except Exception as exc:
            raise _not_answering(exc) from exc
        return [Hit(Chunk.from_store(d, m), i, 1.0 - dist)
                for i, d, m, dist in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])]

    def state(self) -> dict:
        raw = (self.collection.metadata or {}).get("cimic_state")
        return json.loads(raw) if raw else {}

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close:
            close()


def _not_answering(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"the vector store does not answer ({exc.__class__.__name__}); "
                            "questions resume by themselves when it is back")


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def http_client(url: str):
    import chromadb

    parsed = urlparse(url)
    if not parsed.hostname:
        raise StoreUnavailable(f"CIMIC_CHROMA_URL '{url}' is not a URL like http://127.0.0.1:8000")
    try:
        client = chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000, ssl=parsed.scheme == "https",
                                     settings=_chroma_settings())
        client.heartbeat()
    except Exception as exc:
        raise StoreUnavailable(f"the Chroma server at {url} does not answer ({exc.__class__.__name__}); "
                               "start it (`chroma run`) or unset CIMIC_CHROMA_URL to use the embedded store") from exc
    return client


def persistent_client(path: Path):
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


class Generations:
    """Generation folders under store_dir and the atomic `CURRENT` pointer to one of them."""

    def __init__(self, store_dir: Path):
        self.root = store_dir

    def current(self) -> Path | None:
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if name and path.is_dir() else None

    def read_state(self) -> dict:
        cur = self.current()
        try:
            return json.loads((cur / STATE).read_text(encoding="utf-8")) if cur else {}
        except (OSError, ValueError):
            return {}

    def write_state(self, gen: Path, state: dict) -> None:
        _atomic_write(gen / STATE, json.dumps(state, indent=1, sort_keys=True))

    def begin(self, fresh: bool = False) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        new = self.root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        cur = self.current()
        if cur and not fresh:
            shutil.copytree(cur, new)
        else:
            new.mkdir()
        return new

    def commit(self, gen: Path) -> None:
        _fsync_tree(gen)
        _atomic_write(self.root / POINTER, gen.name)

    def prune(self, keep: int = 2) -> None:
        """Remove generations other than the newest `keep` (readers may still hold the previous one)."""
        cur = self.current()
        gens = sorted((p for p in self.root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
        keepers = {cur} | set(gens[:keep])
        for p in gens:
            if p not in keepers:
                shutil.rmtree(p, ignore_errors=True)

    @contextmanager
    def lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".ingest.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusy(f"another `cimic ingest` is running on {self.root}; wait for it to finish") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def open_reader(settings, embedder_name: str) -> tuple[ChromaStore, str]:
    """Open the index for querying; returns the store and a token that changes with each new generation."""
    if settings.chroma_url:
        return ChromaStore(http_client(settings.chroma_url), settings.collection, embedder_name, create=False), settings.chroma_url
    gens = Generations(settings.store_dir)
    cur = gens.current()
    if cur is None:
        raise StoreUnavailable(f"no index in {settings.store_dir} yet; run `cimic ingest` (or `make run`, which builds it)")
    return ChromaStore(persistent_client(cur), settings.collection, embedder_name, create=False), cur.name


class ServerGeneration:
    """The generation token of an index on a Chroma server: the time of its last ingest, which `cimic ingest`
    writes into the collection's metadata. Read at most every `every` seconds, so that a replica notices
    an ingest made through another one within seconds, without asking the server on every question."""

    def __init__(self, settings, every: float = 2.0):
        self.settings = settings
        self.every = every
        self._checked = float("-inf")
        self._token = None
        self._client = None
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            now = time.monotonic()
            if now - self._checked < self.every:
                return self._token
            self._checked = now
            try:
                self._client = self._client or http_client(self.settings.chroma_url)  # one client, reused
                collection = self._client.get_collection(self.settings.collection)
                state = json.loads((collection.metadata or {}).get("cimic_state") or "{}")
                self._token = f"{self.settings.chroma_url}@{state.get('at')}"
            except Exception:  # noqa: BLE001 - an unreachable server is reported by the query that follows
                self._client = None  # made again once the server answers
            return self._token
