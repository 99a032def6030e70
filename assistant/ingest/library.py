"""The documents an instructor manages from the page or the API: what is indexed, uploads, edits, deletes.

`Library(settings, assistant)` answers what the index holds now (documents with their title, kind,
pages, chunks and when they were indexed, and the files skipped with the reason) and previews a
document's chunks. Changes are checked at once (`ingest/uploads.py`: bad input is refused before
anything is written) and then run one at a time by a background worker: it writes the file or the
`sources.yaml` entry, runs the incremental ingest with the server's own embedder (only what changed is
embedded), and refreshes the retriever, so the document is searchable as soon as its job ends. Until
then questions are answered from the index as it was. A deleted document's file is moved to
`knowledge/.trash/`, not destroyed. The job's outcome is said in words ("indexed: 42 chunks, 12 pages").
Leaves out: permissions (the edges check that the caller is an instructor), editing the glossary.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections import Counter, deque
from pathlib import Path

from assistant.errors import AssistantError, IndexBusy, InvalidUpload, NotFound
from assistant.ingest.glossary import GLOSSARY
from assistant.ingest.indexer import discover, ingest
from assistant.ingest.manifest import EDITABLE, load_manifest, slug, write_entry
from assistant.ingest.uploads import CheckedUpload, check_upload

log = logging.getLogger("cimic")
TRASH = ".trash"
MAX_FIELD_CHARS = 300
KEEP_JOBS = 50


def clean_fields(fields: dict | None) -> dict:
    """The editable fields given (title, author, publisher, date, kind), trimmed and checked."""
    out = {}
    for key, value in (fields or {}).items():
        if key not in EDITABLE:
            raise InvalidUpload(f"{key!r} is not a field of a document; the fields are {', '.join(EDITABLE)}")
        if value is None:
            continue
        value = " ".join(str(value).split())
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidUpload(f"the {key} is {len(value)} characters; the limit is {MAX_FIELD_CHARS}")
        out[key] = value
    return out


class Library:
    def __init__(self, settings, assistant):
        self.settings = settings
        self.assistant = assistant
        self.kdir: Path = settings.knowledge_dir
        self._jobs: deque[dict] = deque(maxlen=KEEP_JOBS)
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._running: dict | None = None
        self._worker: threading.Thread | None = None

    # ---- what is indexed -------------------------------------------------------------------------
    def _index(self):
        retriever = self.assistant.retriever
        retriever.refresh_if_changed()
        return retriever.store.state(), dict(retriever.chunks)

    def documents(self) -> dict:
        """{"documents": [...], "skipped": [{"file", "reason"}]}: one row per indexed document."""
        state, chunks = self._index()
        skipped = [{"file": f, "reason": why} for f, why in state.get("skipped", [])]
        return {"documents": self._rows(state, chunks), "skipped": skipped}

    def _rows(self, state: dict, chunks: dict) -> list[dict]:
        manifest = load_manifest(self.kdir)
        by_doc: dict[str, list] = {}
        for c in chunks.values():
            by_doc.setdefault(c.doc_id, []).append(c)
        indexed_at, page_counts = state.get("indexed_at", {}), state.get("pages", {})
        rows = []
        for doc_id, found in by_doc.items():
            path = Counter(c.path for c in found if c.kind != "glossary").most_common(1)
            file = path[0][0] if path else GLOSSARY
            glossary = bool(manifest.glossary) and doc_id == manifest.glossary.doc_id
            entry = manifest.glossary if glossary else manifest.documents.get(file)
            read_from = manifest.glossary_from if glossary else file
            rows.append({
                "doc_id": doc_id, "file": file, "title": found[0].title,
                "kind": entry.kind if entry else "document", "author": entry.author if entry else None,
                "publisher": entry.publisher if entry else None, "date": entry.date if entry else None,
                "pages": page_counts.get(file) or None, "chunks": sum(c.kind != "document" for c in found),
                "indexed_at": _when(indexed_at.get(read_from) or state.get("at")), "editable": not glossary,
            })
        rows.sort(key=lambda r: (r["title"] or "").lower())
        return rows

    def document(self, doc_id: str) -> dict:
        """A document's row and its chunks as the assistant sees them (section, page, text), in reading order."""
        state, chunks = self._index()
        row = self._row(doc_id, state, chunks)
        found = sorted((c for c in chunks.values() if c.doc_id == doc_id and c.kind != "document"),
                       key=lambda c: (c.path, c.start))
        return {**row, "chunk_list": [{"id": c.id, "section": c.section, "page": c.page, "kind": c.kind, "text": c.text}
                                      for c in found]}

    def _row(self, doc_id: str, state: dict | None = None, chunks: dict | None = None) -> dict:
        if state is None:
            state, chunks = self._index()
        for row in self._rows(state, chunks):
            if row["doc_id"] == doc_id:
                return row
        raise NotFound(f"no indexed document has the id {doc_id!r}; GET /api/documents lists them")

    # ---- changes: checked now, applied by the worker ---------------------------------------------
    def upload(self, name: str, data: bytes, fields: dict | None = None, replace: bool = False, by: str = "") -> dict:
        fields = clean_fields(fields)
        present = self._present()
        checked = check_upload(name, data, int(self.settings.max_file_mb * 2**20), present)
        target = self.kdir / checked.name
        if target.is_symlink():
            raise InvalidUpload(f"{checked.name} is a link in the knowledge folder; it cannot be replaced from the page", 400)
        if checked.name in present and not replace:
            raise InvalidUpload(f"a document named {checked.name} exists already; send it with replace=true to "
                                "replace it, or rename the file", 409)
        return self._submit("upload", checked.name, by, lambda job: self._apply_upload(job, checked, fields, replace))

    def edit(self, doc_id: str, fields: dict, by: str = "") -> dict:
        fields = clean_fields(fields)
        if not fields:
            raise InvalidUpload(f"nothing to change: send one or more of {', '.join(EDITABLE)}")
        if "title" in fields and not fields["title"]:
            raise InvalidUpload("a document needs a title")
        row = self._editable(doc_id)
        return self._submit("edit", row["file"], by, lambda job: self._apply_edit(job, row, fields))

    def delete(self, doc_id: str, by: str = "") -> dict:
        row = self._editable(doc_id)
        return self._submit("delete", row["file"], by, lambda job: self._apply_delete(job, row))

    def _editable(self, doc_id: str) -> dict:
        row = self._row(doc_id)
        if not row["editable"]:
            raise InvalidUpload(f"{row['title']} comes from {GLOSSARY}; edit that file on the server instead", 400)
        return row

    def _present(self) -> dict[str, str]:
        files, _ = discover(self.kdir, 2**62)
        return {rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in files}

    def _submit(self, action: str, name: str, by: str, apply) -> dict:
        job = {"id": uuid.uuid4().hex[:12], "action": action, "file": name, "by": by, "state": "queued",
               "outcome": "", "submitted": _when(time.time()), "finished": None, "done": 0, "total": 0}
        with self._lock:
            self._jobs.appendleft(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="cimic-library", daemon=True)
                self._worker.start()
        self._queue.put((job, apply))
        return dict(job)

    def _work(self) -> None:
        while True:
            job, apply = self._queue.get()
            with self._lock:
                job["state"], self._running = "indexing", job
            try:
                job["outcome"], job["state"] = apply(job), "done"
            except AssistantError as exc:
                job["outcome"], job["state"] = f"failed: {exc.message}", "failed"
            except Exception as exc:  # noqa: BLE001 - one job failing must not stop the queue
                log.exception("document job %s failed", job["id"])
                job["outcome"], job["state"] = f"failed: {exc.__class__.__name__}: {exc}", "failed"
            finally:
                with self._lock:
                    job["finished"], self._running = _when(time.time()), None
                self._queue.task_done()

    def wait(self, timeout: float = 600) -> bool:
        """Block until every queued job has ended (for the CLI and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    def status(self) -> dict:
        """idle, or indexing with the running job's progress; the jobs waiting, and the recent ones."""
        with self._lock:
            jobs = [dict(j) for j in self._jobs]
            running = dict(self._running) if self._running else None
        return {"state": "indexing" if running else "idle", "job": running,
                "queued": [j for j in jobs if j["state"] == "queued"], "recent": [j for j in jobs if j["state"] in ("done", "failed")]}

    def job(self, job_id: str) -> dict:
        with self._lock:
            for j in self._jobs:
                if j["id"] == job_id:
                    return dict(j)
        raise NotFound(f"no document job {job_id!r}")

    # ---- the worker's steps ----------------------------------------------------------------------
    def _apply_upload(self, job: dict, checked: CheckedUpload, fields: dict, replace: bool) -> str:
        target = self.kdir / checked.name
        replaced = target.exists()
        if replaced and not replace:  # another upload of the same name was queued first and has landed
            raise InvalidUpload(f"a document named {checked.name} was added while this one waited; send it again "
                                "with replace=true to replace it", 409)
        if replaced:
            self._to_trash(target)
        manifest = load_manifest(self.kdir)
        taken = {e.doc_id for rel, e in manifest.documents.items() if rel != checked.name}
        doc_id = slug(checked.name)
        while doc_id in taken:
            doc_id = f"{slug(checked.name)}-{uuid.uuid4().hex[:4]}"
        entry = manifest.documents.get(checked.name)
        fields = {"title": (entry.title if entry else None) or checked.loaded.title or Path(checked.name).stem.replace("_", " "),
                  **fields}
        _write_atomic(target, checked.data)
        write_entry(self.kdir, checked.name, fields, doc_id)
        self._ingest(job)
        state, chunks = self._index()
        failed = dict(state.get("skipped", []))
        if checked.name in failed:
            return f"skipped: {failed[checked.name]}"
        mine = [c for c in chunks.values() if c.path == checked.name and c.kind != "document"]
        pages = f", {checked.pages} pages" if checked.pages else ""
        return f"{'replaced' if replaced else 'indexed'}: {len(mine)} chunks{pages}"

    def _apply_edit(self, job: dict, row: dict, fields: dict) -> str:
        write_entry(self.kdir, row["file"], fields, row["doc_id"])
        self._ingest(job)
        return "updated: " + ", ".join(f"{k} {v!r}" if v else f"{k} removed" for k, v in fields.items())

    def _apply_delete(self, job: dict, row: dict) -> str:
        path = self.kdir / row["file"]
        moved = self._to_trash(path) if path.exists() else None
        write_entry(self.kdir, row["file"], None)
        self._ingest(job)
        where = f"; the file is in {moved.relative_to(self.kdir).as_posix()}" if moved else ""
        return f"deleted: {row['chunks']} chunks left the index{where}"

    def _to_trash(self, path: Path) -> Path:
        trash = self.kdir / TRASH
        trash.mkdir(exist_ok=True)
        dest = trash / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}-{path.name}"
        path.replace(dest)
        return dest

    def _ingest(self, job: dict) -> None:
        """The incremental ingest, waiting while another one (a `cimic ingest` in a terminal) holds the index."""
        def progress(done, total):
            job["done"], job["total"] = done, total

        embedder = self.assistant.retriever.embedder
        deadline = time.monotonic() + 600
        while True:
            try:
                report = ingest(self.settings, embedder, progress=progress)
                break
            except IndexBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        log.warning("document job %s (%s %s): %s", job["id"], job["action"], job["file"], report.summary().splitlines()[0])
        self.assistant.retriever.refresh_if_changed()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.upload{uuid.uuid4().hex[:6]}")
    tmp.write_bytes(data)
    tmp.replace(path)


def _when(t: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else None

