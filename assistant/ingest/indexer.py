"""Incremental, crash-safe indexing of knowledge/ into the Chroma store.

Chunk ids are content hashes, so the difference between what the files yield now and what the
index holds tells exactly what to embed (new ids), what to drop (ids no file yields any more) and
what only needs new metadata (same text, new offsets). Nothing is embedded twice. A file that fails
to load is reported and skipped, and the chunks it had in the index are kept. A fingerprint of the
files and settings lets a run with nothing changed finish without opening Chroma at all; when only
some files changed (same settings, same sources.yaml and glossary), only those files are read and
chunked again, and the embedded store gets one new segment with what they add (`store.Segments`), so
the cost of an ingest follows the change, not the size of the index.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.errors import DocumentError
from assistant.ingest.chunker import chunk_document, document_card
from assistant.documents import Chunk
from assistant.ingest.glossary import GLOSSARY, glossary_chunks, load_glossary
from assistant.ingest.loaders import LOADERS, Limits, load
from assistant.ingest.manifest import MANIFEST, load_manifest
from assistant.index.store import ChromaStore, SegmentedStore, Segments, http_client, persistent_client

# 7: sentences found by sentencex (a list's lead-in is cut at its own sentence, not at "U.S." or "St.")
# (6: a list cut off from the sentence that introduces it gets that sentence back;
#  5: a heading ending in a lower-case word keeps its lower-case body)
CHUNKER_VERSION = "7"
SKIP_NAMES = {MANIFEST, GLOSSARY, "README.md"}
MAX_SEGMENTS = 8  # more than this, or
MAX_DEAD_SHARE = 0.15  # more removed ids than this share of the live ones: merge the segments into one
ADD_BATCH = 1000


@dataclass
class IngestReport:
    documents: int = 0
    chunks: int = 0
    added: int = 0
    kept: int = 0
    updated: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False
    generation: str | None = None
    pages: dict[str, int] = field(default_factory=dict)  # each indexed file's page count (0: no pages)

    def summary(self) -> str:
        lines = [
            f"{self.documents} documents, {self.chunks} chunks: {self.added} added, {self.kept} kept"
            f" ({self.updated} with new offsets), {self.removed} removed, in {self.seconds:.1f} s"
            + (" (nothing changed)" if self.unchanged else "")
        ]
        lines += [f"skipped {path}: {why}" for path, why in self.skipped]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def discover(knowledge_dir: Path, max_bytes: int) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """Files to index, and files skipped with the reason. Symlinks that leave knowledge/ are refused."""
    root = knowledge_dir.resolve()
    found, skipped = [], []
    for path in sorted(knowledge_dir.rglob("*")):
        rel = path.relative_to(knowledge_dir).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts) or path.name in SKIP_NAMES:
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            skipped.append((rel, f"a symlink to {path.resolve()}, outside {knowledge_dir}; copy the file in instead"))
            continue
        if not path.is_file():
            continue
        if path.suffix.lower() not in LOADERS:
            skipped.append((rel, f"unsupported file type '{path.suffix}'; supported: {', '.join(sorted(LOADERS))}"))
            continue
        size = path.stat().st_size
        if size > max_bytes:
            skipped.append((rel, f"{size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit (CIMIC_MAX_FILE_MB); split it or raise the limit"))
            continue
        found.append((rel, path))
    return found, skipped


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(settings, embedder_name: str, files: list[tuple[str, Path]], skipped) -> dict:
    """What the index is built from. A file's entry hashes its bytes and its own sources.yaml record, so
    editing one document's title re-reads that document only; the glossary's record and file, the
    chunker and the embedder concern every file."""
    kdir = settings.knowledge_dir
    manifest = load_manifest(kdir)
    config = {
        "chunker": CHUNKER_VERSION, "chunk_tokens": settings.chunk_tokens, "embedder": embedder_name,
        "manifest": _sha(json.dumps([asdict(manifest.glossary) if manifest.glossary else None, manifest.glossary_from],
                                    sort_keys=True).encode()),
        "glossary": _sha((kdir / GLOSSARY).read_bytes()) if (kdir / GLOSSARY).exists() else None,
    }

    def record(rel: str) -> bytes:
        entry = manifest.documents.get(rel)
        return json.dumps(asdict(entry) if entry else None, sort_keys=True).encode()

    return {"config": config, "files": {rel: _sha(p.read_bytes() + b"\x00" + record(rel)) for rel, p in files},
            "skipped": sorted(map(list, skipped))}


def build_chunks(settings, count_tokens, files) -> tuple[dict[str, Chunk], list[tuple[str, str]], list[str], dict[str, int]]:
    """All chunks the knowledge files yield now, the files that failed, warnings, and each file read's
    page count (0 for a format without pages)."""
    kdir = settings.knowledge_dir
    manifest = load_manifest(kdir)
    chunks: dict[str, Chunk] = {}
    failed, warnings, pages = [], [], {}
    limits = Limits.of(settings)
    for rel, path in files:
        try:
            loaded = load(path, limits)
        except DocumentError as exc:
            failed.append((rel, exc.reason))
            continue
        except Exception as exc:  # a loader library failing in a way we did not foresee still skips only this file
            failed.append((rel, f"could not be read ({exc.__class__.__name__}: {exc})"))
            continue
        warnings += loaded.warnings
        source = manifest.source_for(rel, loaded.title)
        found = chunk_document(loaded, source, rel, settings.chunk_tokens, count_tokens)
        card = document_card(source, rel)
        found += [card] if card else []
        if manifest.glossary and manifest.glossary_from == rel and (kdir / GLOSSARY).exists():
            entries = load_glossary(kdir / GLOSSARY)
            found += glossary_chunks(entries, manifest.glossary, loaded.text, rel)
        pages[rel] = len(loaded.pages)
        for c in found:
            chunks.setdefault(c.id, c)
    return chunks, failed, warnings, pages


def _embed_and_add(store: ChromaStore, embedder, chunks: list[Chunk], batch: int, progress) -> None:
    """`progress`: True for a terminal bar, or a callable told (chunks embedded, chunks to embed)."""
    from tqdm import tqdm

    step = batch * 8  # the embedder sorts each slice by length and batches it: less padding than batch by batch
    told = progress if callable(progress) else None
    with tqdm(total=len(chunks), unit="chunk", desc="embedding", disable=progress is not True, leave=False) as bar:
        for i in range(0, len(chunks), step):
            part = chunks[i:i + step]
            store.add(part, embedder.embed([c.embed_text or c.text for c in part]))
            bar.update(len(part))
            if told:
                told(i + len(part), len(chunks))


@dataclass
class Plan:
    """What an ingest changes: chunks to embed, chunks whose metadata changed (same text), ids to drop."""
    to_add: list[Chunk]
    to_update: list[Chunk]
    to_remove: list[str]


def plan(settings, embedder, live: dict[str, dict], state: dict, fp: dict, files, report: IngestReport) -> Plan:
    """Read and chunk the files that changed since `state` (all of them without one, or when the
    settings, sources.yaml or the glossary changed) and compare with the `live` ids and metadata: the
    chunks of unchanged files stay as they are, and those of a file that fails to load are kept.
    Fills the report's counts."""
    old_fp = state.get("fingerprint") or {}
    if old_fp.get("config") == fp["config"]:
        old_files = old_fp.get("files", {})
        changed = {rel for rel, sha in fp["files"].items() if old_files.get(rel) != sha}
        old_failed = [tuple(f) for f in state.get("failed", []) if f[0] not in changed and f[0] in fp["files"]]
    else:
        changed, old_failed = set(fp["files"]), []
    wanted, failed, warnings, pages = build_chunks(settings, embedder.count_tokens, [(r, p) for r, p in files if r in changed])
    failed_paths = {p for p, _ in failed} | {p for p, _ in old_failed}
    kept = {i for i, m in live.items() if m.get("path") in failed_paths
            or (m.get("path") not in changed and m.get("path") in fp["files"])}
    out = Plan([c for i, c in wanted.items() if i not in live],
               [c for i, c in wanted.items() if i in live and live[i] != c.metadata()],
               [i for i in live if i not in wanted and i not in kept])
    report.added, report.updated, report.removed = len(out.to_add), len(out.to_update), len(out.to_remove)
    report.chunks = len(live) - len(out.to_remove) + len(out.to_add)
    report.kept = report.chunks - len(out.to_add)
    report.skipped = old_failed + failed
    report.warnings = warnings if changed == set(fp["files"]) else sorted(set(warnings) | set(state.get("warnings", [])))
    report.documents = len(fp["files"]) - len(failed_paths)
    report.pages = {rel: n for rel, n in state.get("pages", {}).items() if rel in fp["files"] and rel not in changed}
    report.pages.update(pages)
    return out


def _apply_in_place(store: ChromaStore, embedder, todo: Plan, settings, progress: bool) -> None:
    """A Chroma server: add before delete, so an interrupted run never leaves a document without chunks."""
    _embed_and_add(store, embedder, todo.to_add, settings.embed_batch, progress)
    store.update_metadata(todo.to_update)
    store.delete(todo.to_remove)


def ingest(settings, embedder, progress=False, rebuild: bool = False) -> IngestReport:
    """Bring the index up to date with knowledge/. `progress`: True for a terminal bar, or a callable
    told (chunks embedded, chunks to embed) as the embedding goes."""
    t0 = time.perf_counter()
    report = IngestReport()
    files, skipped = discover(settings.knowledge_dir, int(settings.max_file_mb * 2**20))
    fp = fingerprint(settings, embedder.name, files, skipped)

    if settings.chroma_url:
        store = ChromaStore(http_client(settings.chroma_url), settings.collection, embedder.name, create=True)
        try:
            old = store.state()
            if not rebuild and old.get("fingerprint") == fp:
                _unchanged(report, old, t0)
                return report
            if rebuild:
                store.delete(list(store.entries()))
                old = {}
            todo = plan(settings, embedder, store.entries(), old, fp, files, report)
            _apply_in_place(store, embedder, todo, settings, progress)
            report.skipped = skipped + report.skipped
            store.collection.modify(metadata={"embedder": embedder.name, "cimic_state": json.dumps(_state(fp, report, old))})
        finally:
            store.close()
        report.seconds = time.perf_counter() - t0
        return report

    segments = Segments(settings.store_dir)
    with segments.lock():
        previous = segments.current_name()
        manifest = None if rebuild else segments.current()
        built_with = ((manifest or {}).get("state", {}).get("fingerprint") or {}).get("config", {}).get("embedder")
        if manifest and built_with != embedder.name:
            manifest = None  # vectors of another embedder are not mixed with these: everything is embedded again
        old = (manifest or {}).get("state", {})
        if manifest and old.get("fingerprint") == fp:
            _unchanged(report, old, t0)
            report.generation = previous
            return report
        if hasattr(embedder, "preload"):
            embedder.preload()  # overlaps the model import with loading and chunking
        reader = SegmentedStore(segments.root, manifest, settings.collection, embedder.name) if manifest else None
        try:
            located = reader.located() if reader else {}
            todo = plan(settings, embedder, {i: m for i, (_, m) in located.items()}, old, fp, files, report)
            manifest, written = _new_segment(settings, embedder, segments, reader, manifest,
                                             {i: seg for i, (seg, _) in located.items()}, todo, progress)
        finally:
            if reader:
                reader.close()
        report.skipped = skipped + report.skipped
        manifest["state"] = _state(fp, report, old)
        report.generation = segments.commit(manifest, written)
        if _needs_merge(manifest):
            report.generation = _merge(settings, embedder.name, segments, manifest)
        segments.prune(keep_previous=previous)
    report.seconds = time.perf_counter() - t0
    return report


def _new_segment(settings, embedder, segments: Segments, reader, manifest, located, todo: Plan, progress: bool):
    """The embedded store: what the plan adds goes into one new segment (vectors of chunks whose metadata
    changed are copied), what it drops is marked dead in its segment; returns the new manifest and the
    segment folders written."""
    new = {"segments": [dict(seg, dead=list(seg["dead"])) for seg in (manifest or {"segments": []})["segments"]]}
    by_name = {seg["name"]: seg for seg in new["segments"]}
    for i in todo.to_remove + [c.id for c in todo.to_update]:
        by_name[located[i]]["dead"].append(i)
    if reader:  # a segment all of whose ids are dead leaves the manifest
        sizes = reader.sizes()
        new["segments"] = [seg for seg in new["segments"] if len(set(seg["dead"])) < sizes[seg["name"]]]
    written = []
    if todo.to_add or todo.to_update:
        path = segments.new_segment()
        written.append(path)
        store = ChromaStore(persistent_client(path), settings.collection, embedder.name, create=True)
        try:
            _embed_and_add(store, embedder, todo.to_add, settings.embed_batch, progress)
            for seg_name in {located[c.id] for c in todo.to_update}:  # same text, new metadata: the vector is copied
                moved = [c for c in todo.to_update if located[c.id] == seg_name]
                vectors = reader.vectors(seg_name, [c.id for c in moved])
                store.add(moved, [vectors[c.id] for c in moved])
        finally:
            store.close()
        new["segments"].append({"name": path.name, "dead": []})
    return new, written


def _needs_merge(manifest: dict) -> bool:
    dead = sum(len(s["dead"]) for s in manifest["segments"])
    live = manifest["state"]["chunks"]
    return len(manifest["segments"]) > MAX_SEGMENTS or dead > MAX_DEAD_SHARE * max(live, 1)


def _merge(settings, embedder_name: str, segments: Segments, manifest: dict) -> str:
    """Copy the live chunks of every segment, vectors included, into one new segment and commit it."""
    reader = SegmentedStore(segments.root, manifest, settings.collection, embedder_name)
    path = segments.new_segment()
    store = ChromaStore(persistent_client(path), settings.collection, embedder_name, create=True)
    try:
        for name, part, dead in reader.parts:
            got = part.collection.get(include=["documents", "metadatas", "embeddings"])
            rows = [(i, d, m, v) for i, d, m, v in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
                    if i not in dead]
            for k in range(0, len(rows), ADD_BATCH):
                batch = rows[k:k + ADD_BATCH]
                store.collection.upsert(ids=[r[0] for r in batch], documents=[r[1] for r in batch],
                                        metadatas=[r[2] for r in batch], embeddings=[list(r[3]) for r in batch])
    finally:
        store.close()
        reader.close()
    return segments.commit({"segments": [{"name": path.name, "dead": []}], "state": manifest["state"]}, [path])


def _state(fp: dict, report: IngestReport, old: dict) -> dict:
    """What the index was built from, with when each file's present version was first indexed."""
    failed = [list(s) for s in report.skipped if s[0] in fp["files"]]  # files found but not loadable
    now = time.time()
    before, since = (old.get("fingerprint") or {}).get("files", {}), old.get("indexed_at", {})
    indexed_at = {rel: since.get(rel, now) if before.get(rel) == sha else now for rel, sha in fp["files"].items()}
    return {"fingerprint": fp, "documents": report.documents, "chunks": report.chunks,
            "skipped": [list(s) for s in report.skipped], "failed": failed, "warnings": report.warnings, "at": now,
            "indexed_at": indexed_at, "pages": report.pages}


def _unchanged(report: IngestReport, old: dict, t0: float) -> None:
    report.unchanged = True
    report.documents = old.get("documents", 0)
    report.chunks = report.kept = old.get("chunks", 0)
    report.skipped = [tuple(s) for s in old.get("skipped", [])]
    report.warnings = list(old.get("warnings", []))
    report.seconds = time.perf_counter() - t0
