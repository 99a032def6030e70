"""The Chroma vector store: an embedded persistent store (default) or a `chroma run` server.

Embedded stores are immutable segments under `store_dir` listed by a committed manifest (`Segments`):
an ingest writes only what changed into a new segment and marks removed ids dead in the old ones, then
atomically switches the `CURRENT` pointer to a new manifest, so its cost follows the change, not the
index, and a process killed at any point leaves the previous index whole. When dead ids or segments
pile up, the ingest merges the live chunks into one segment, copying their vectors (nothing is
embedded again). Readers (`SegmentedStore`) notice a new manifest on their next query. A server store
is changed in place, adding new chunks before removing old ones, so an interrupted ingest never leaves
a document missing. Leaves out: Chroma auth tokens and tenants other than the default.
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
from assistant.documents import Chunk

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

    def chunks(self, cache: dict | None = None) -> dict[str, Chunk]:
        """Every chunk (`cache` is for immutable segments; a collection that changes in place ignores it)."""
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


class Segments:
    """The embedded index as immutable segments listed by a committed manifest.

    `store_dir/CURRENT` names the manifest in force, `manifest-*.json`: the segments (each a Chroma
    persistent folder `seg-*`, written once by one ingest and only read afterwards) with, per segment,
    the ids removed from it since (`dead`), and the ingest state (fingerprint, counts, skipped files).
    An ingest writes its new chunks into a new segment, then commits a new manifest by an atomic rename
    of CURRENT: a process killed at any point leaves the previous manifest, and every segment it names,
    whole. A manifest written by the older layout (CURRENT naming a whole-store folder) reads as one segment.
    """

    def __init__(self, store_dir: Path):
        self.root = Path(store_dir)

    def current_name(self) -> str | None:
        try:
            return (self.root / POINTER).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def current(self) -> dict | None:
        """The manifest in force: {"segments": [{"name", "dead"}], "state": {...}}, or None."""
        name = self.current_name()
        if not name or not (self.root / name).exists():
            return None
        path = self.root / name
        if path.is_dir():  # the older layout: one whole store, its state beside it
            try:
                state = json.loads((path / STATE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                state = {}
            return {"segments": [{"name": name, "dead": []}], "state": state}
        return json.loads(path.read_text(encoding="utf-8"))

    def new_segment(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"seg-{_stamp()}"
        path.mkdir()
        return path

    def commit(self, manifest: dict, written: list[Path]) -> str:
        """Make `manifest` the one in force; `written` are the segment folders this ingest wrote."""
        for seg in written:
            _fsync_tree(seg)
        name = f"manifest-{_stamp()}.json"
        _atomic_write(self.root / name, json.dumps(manifest, indent=1, sort_keys=True))
        _atomic_write(self.root / POINTER, name)
        return name

    def prune(self, keep_previous: str | None) -> None:
        """Remove manifests and segments that neither the manifest in force nor `keep_previous` (which
        readers may still hold) names: segments of a killed ingest, folders merged away."""
        keep_names = {self.current_name(), keep_previous} - {None}
        needed = set(keep_names)
        for name in keep_names:
            path = self.root / name
            if path.is_file():
                needed |= {s["name"] for s in json.loads(path.read_text(encoding="utf-8"))["segments"]}
        for p in self.root.iterdir():
            if p.name.startswith(("seg-", "gen-", "manifest-")) and p.name not in needed:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

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


def _stamp() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**9}"


_SEGMENT_ENTRIES: dict[str, dict[str, dict]] = {}  # store root -> {segment: its ids' metadata}, read once per process


class SegmentedStore:
    """Reads the segments a manifest names as one store: ids removed from a segment are left out, and a
    query asks every segment and keeps the best (each segment is asked for as many more as it has
    removed ids, so nothing live is crowded out). Same reading interface as ChromaStore."""

    def __init__(self, root: Path, manifest: dict, collection: str, embedder_name: str):
        self.root = Path(root).resolve()
        self.manifest = manifest
        self.parts: list[tuple[str, ChromaStore, frozenset]] = []
        try:
            for seg in manifest["segments"]:
                store = ChromaStore(persistent_client(root / seg["name"]), collection, embedder_name, create=False)
                self.parts.append((seg["name"], store, frozenset(seg["dead"])))
        except Exception:
            self.close()
            raise

    def count(self) -> int:
        return sum(store.count() - len(dead) for _, store, dead in self.parts)

    def sizes(self) -> dict[str, int]:
        """Ids stored per segment, dead ones included."""
        return {name: store.count() for name, store, _ in self.parts}

    def _live(self, read, cache: dict | None) -> dict[str, tuple[str, object]]:
        """Every live id with its segment and what `read(store)` gives for it. `cache` (segment name ->
        what was read), kept between openings, spares reading again the segments it holds (they never
        change once written) and forgets those no longer in force."""
        out = {}
        for name, store, dead in self.parts:
            part = cache.get(name) if cache is not None else None
            if part is None:
                part = read(store)
                if cache is not None:
                    cache[name] = part
            out.update({i: (name, v) for i, v in part.items() if i not in dead})
        if cache is not None:
            for name in set(cache) - {n for n, _, _ in self.parts}:
                cache.pop(name, None)
        return out

    def located(self) -> dict[str, tuple[str, dict]]:
        """Every live id with the segment that holds it and its metadata. A segment's metadata is read
        once per process, so an ingest that follows another in the same process (the server's document
        jobs) reads only the segments written since."""
        return self._live(ChromaStore.entries, _SEGMENT_ENTRIES.setdefault(str(self.root), {}))

    def entries(self) -> dict[str, dict]:
        return {i: m for i, (_, m) in self.located().items()}

    def chunks(self, cache: dict | None = None) -> dict[str, Chunk]:
        """The live chunks; `cache` (segment name -> its chunks) is kept by the caller between openings."""
        return {i: c for i, (_, c) in self._live(ChromaStore.chunks, cache).items()}

    def vectors(self, name: str, ids: list[str]) -> dict[str, list[float]]:
        store = next(store for n, store, _ in self.parts if n == name)
        got = store.collection.get(ids=ids, include=["embeddings"])
        return {i: list(v) for i, v in zip(got["ids"], got["embeddings"])}

    def query(self, vector: list[float], k: int, doc_id: str | None = None) -> list[Hit]:
        hits = []
        for _, store, dead in self.parts:
            hits += [h for h in store.query(vector, k + len(dead), doc_id) if h.id not in dead]
        return sorted(hits, key=lambda h: h.similarity, reverse=True)[:k]

    def state(self) -> dict:
        return self.manifest.get("state", {})

    def close(self) -> None:
        for _, store, _ in self.parts:
            store.close()


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


def open_reader(settings, embedder_name: str):
    """Open the index for querying; returns the store and a token that changes with each commit."""
    if settings.chroma_url:
        return ChromaStore(http_client(settings.chroma_url), settings.collection, embedder_name, create=False), settings.chroma_url
    segments = Segments(settings.store_dir)
    name, manifest = segments.current_name(), segments.current()
    if manifest is None:
        raise StoreUnavailable(f"no index in {settings.store_dir} yet; run `cimic ingest` (or `make run`, which builds it)")
    return SegmentedStore(segments.root, manifest, settings.collection, embedder_name), name


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
