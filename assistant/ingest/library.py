"""The documents an instructor manages from the page or the API: what is indexed, uploads, edits, deletes,
restores from the trash.

`Library(settings, assistant)` answers what the index holds now (documents with their title, kind,
pages, chunks and when they were indexed) and every other file of knowledge/ as skipped, with the reason:
unreadable, over a limit, yielding no passage, or not indexed yet; each of those can be deleted or replaced
too. It previews a document's chunks. Changes are checked at once (`ingest/uploads.py`: bad input is refused
before anything is written, a file is parsed in a child process) and then run one at a time by a background
worker: it writes the file or the `sources.yaml` entry, runs the incremental ingest with the server's own
embedder (only what changed is embedded), and refreshes the retriever, so the document is searchable as soon
as its job ends. Until then questions are answered from the index as it was. A deleted document's file is
moved to `knowledge/.trash/` with its entry beside it (`.trash/.entries/`), and can be restored from there.
The job's outcome is said in words ("indexed: 42 chunks, 12 pages").

Jobs are journaled in `knowledge/.jobs/`: one small JSON record per job, written before each step (what it
moved, what it created, the `sources.yaml` entry as it was), with an uploaded file's bytes held beside it
until its job ends. A job that fails has its steps undone (the folder is as it was) and stays listed as
failed with "retry" and "remove". A process holds a lock file for its life; when it dies (kill -9, a power
cut), the next Library to start, or the next job to run, finds its unfinished jobs, undoes them (or, when
the index had taken the change already, marks them done) and lists them as failed: no other job ever
finishes them silently. Leaves out: permissions (the edges check that the caller is an instructor), editing
the glossary.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import queue
import re
import shutil
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import yaml

from assistant.errors import AssistantError, IndexBusy, InvalidUpload, NotFound
from assistant.ingest.glossary import GLOSSARY
from assistant.ingest.indexer import discover, fingerprint, ingest
from assistant.ingest.loaders import Limits
from assistant.ingest.manifest import EDITABLE, MANIFEST, load_manifest, slug, write_entry
from assistant.ingest.uploads import check_upload

log = logging.getLogger("cimic")
TRASH = ".trash"
ENTRIES = ".entries"  # in .trash: each trashed file's sources.yaml entry and where it came from
JOBS = ".jobs"
MAX_FIELD_CHARS = 300
KEEP_JOBS = 50  # ended jobs kept in memory; failed ones waiting for "retry" or "remove" are always kept
ACTIONS = ["retry", "remove"]
_STAMP = re.compile(r"^(\d{8}-\d{6})-[0-9a-f]{6}-(.+)$")


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


class Refused(InvalidUpload):
    """A job the folder or the file does not allow (a name taken meanwhile, no passage): undone, not retried."""


class Library:
    def __init__(self, settings, assistant):
        self.settings = settings
        self.assistant = assistant
        self.kdir: Path = settings.knowledge_dir
        self.limits = Limits.of(settings)
        self._jobs: list[dict] = []  # newest first
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.RLock()
        self._running: dict | None = None
        self._worker: threading.Thread | None = None
        self._owner = uuid.uuid4().hex[:12]
        self._owner_fd: int | None = None
        self._claim_lock = threading.Lock()
        self._recover()

    # ---- what is indexed -------------------------------------------------------------------------
    def _index(self):
        retriever = self.assistant.retriever
        retriever.refresh_if_changed()
        return retriever.store.state(), dict(retriever.chunks)

    def documents(self) -> dict:
        """{"documents": [...], "skipped": [{"file", "reason", "doc_id"}]}: one row per indexed document, and
        every other file of knowledge/ with the reason it is not indexed."""
        state, chunks = self._index()
        return {"documents": self._rows(state, chunks), "skipped": self._skipped(state, chunks)}

    def _skipped(self, state: dict, chunks: dict) -> list[dict]:
        found, unreadable = discover(self.kdir, int(self.settings.max_file_mb * 2**20))
        indexed = set(((state.get("fingerprint") or {}).get("files") or {}))
        failed = {f: why for f, why in state.get("skipped", [])}
        with_passages = {c.path for c in chunks.values() if c.kind != "document"}
        running = self._running["file"] if self._running else None
        out = [(rel, why) for rel, why in unreadable]
        for rel, _ in found:
            if rel == running:
                out.append((rel, "being indexed now"))
            elif rel not in indexed:
                out.append((rel, "not indexed yet: it came into the folder after the last indexing; the next job "
                                  "or `cimic ingest` indexes it"))
            elif rel in failed:
                out.append((rel, failed[rel]))
            elif rel not in with_passages:
                out.append((rel, "yields no passage to index (a passage needs at least 3 words)"))
        manifest = load_manifest(self.kdir)
        return [{"file": rel, "reason": why, "doc_id": manifest.source_for(rel, None).doc_id} for rel, why in out]

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

    def row(self, doc_id: str) -> dict:
        """One document's (or skipped file's) row, without its chunks."""
        return self._row(doc_id)

    def _row(self, doc_id: str, state: dict | None = None, chunks: dict | None = None) -> dict:
        """A document's row, or a skipped file's (by its id or its file name): both can be edited and deleted."""
        if state is None:
            state, chunks = self._index()
        rows = self._rows(state, chunks)
        for row in rows:
            if row["doc_id"] == doc_id:
                return row
        for row in rows:
            if row["file"] == doc_id and row["editable"]:
                return row
        for skipped in self._skipped(state, chunks):
            if doc_id in (skipped["doc_id"], skipped["file"]) and (self.kdir / skipped["file"]).exists():
                return {"doc_id": skipped["doc_id"], "file": skipped["file"], "title": skipped["file"], "kind": "document",
                        "chunks": 0, "editable": True, "skipped": skipped["reason"], "pages": None, "author": None,
                        "publisher": None, "date": None, "indexed_at": None}
        raise NotFound(f"no indexed document has the id {doc_id!r}; GET /api/documents lists them")

    # ---- changes: checked now, applied by the worker ---------------------------------------------
    def upload(self, name: str, data: bytes, fields: dict | None = None, replace: bool = False, by: str = "") -> dict:
        from assistant.index.embeddings import _Tokens
        from assistant.ingest.uploads import precheck

        fields = clean_fields(fields)
        present = self._present()
        max_bytes = int(self.settings.max_file_mb * 2**20)
        name, _ = precheck(name, data, max_bytes, present, self.limits, replace)  # the cheap checks, before parsing
        target = self.kdir / name
        if target.is_symlink():
            raise InvalidUpload(f"{name} is a link in the knowledge folder; it cannot be replaced from the page", 400)
        if name in present and not replace:
            raise InvalidUpload(f"a document named {name} exists already; send it with replace=true to "
                                "replace it, or rename the file", 409)
        source = load_manifest(self.kdir).source_for(name, None)
        tokens = "minilm" if isinstance(self.assistant.retriever.embedder, _Tokens) else "words"
        checked = check_upload(name, data, max_bytes, present, self.limits, replace, source, self.settings.chunk_tokens,
                               tokens, self.settings.parse_timeout_s)
        spec = {"name": checked.name, "fields": fields, "replace": replace, "sha": checked.sha256, "pages": checked.pages,
                "title": checked.loaded.title}
        return self._submit("upload", checked.name, by, spec, data=checked.data)

    def edit(self, doc_id: str, fields: dict, by: str = "") -> dict:
        fields = clean_fields(fields)
        if not fields:
            raise InvalidUpload(f"nothing to change: send one or more of {', '.join(EDITABLE)}")
        if "title" in fields and not fields["title"]:
            raise InvalidUpload("a document needs a title")
        row = self._editable(doc_id)
        return self._submit("edit", row["file"], by, {"doc_id": row["doc_id"], "file": row["file"], "fields": fields})

    def delete(self, doc_id: str, by: str = "") -> dict:
        row = self._editable(doc_id)
        return self._submit("delete", row["file"], by, {"doc_id": row["doc_id"], "file": row["file"], "chunks": row["chunks"]})

    def trash(self) -> list[dict]:
        """What is in knowledge/.trash/, newest first: its name there, the file it was, its title, when it went."""
        folder = self.kdir / TRASH
        out = []
        for p in sorted(folder.iterdir() if folder.is_dir() else [], key=lambda p: p.name, reverse=True):
            if not p.is_file() or p.name.startswith("."):
                continue
            side = self._sidecar(p.name)
            entry = side.get("entry") or {}
            m = _STAMP.match(p.name)
            rel = side.get("file") or (m.group(2) if m else p.name)
            when = side.get("deleted") or (_when(time.mktime(time.strptime(m.group(1), "%Y%m%d-%H%M%S"))) if m else None)
            out.append({"name": p.name, "file": rel, "title": entry.get("title") or Path(rel).stem.replace("_", " "),
                        "deleted": when, "by": side.get("by"), "bytes": p.stat().st_size,
                        "taken": (self.kdir / rel).exists()})
        return out

    def restore(self, name: str, by: str = "") -> dict:
        """Put a file of .trash/ back where it was, with its entry, and index it (a job)."""
        item = self._trash_item(name)
        rel = self._sidecar(name).get("file") or (_STAMP.match(name).group(2) if _STAMP.match(name) else name)
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or any(x in ("..", "") or x.startswith(".") for x in parts):
            raise InvalidUpload(f"{name} would go back to {rel!r}, which is not a plain place in the knowledge folder", 400)
        if (self.kdir / rel).exists() or (self.kdir / rel).is_symlink():
            raise InvalidUpload(f"a document named {rel} is in the knowledge folder; delete it (or rename this one) "
                                "before restoring this copy", 409)
        sha = hashlib.sha256(item.read_bytes()).hexdigest()
        same = [n for n, s in self._present().items() if s == sha]
        if same:
            raise InvalidUpload(f"{rel} has the same content as {same[0]}, which is in the knowledge folder already", 409)
        return self._submit("restore", rel, by, {"trash": name, "file": rel})

    def retry(self, job_id: str, by: str = "") -> dict:
        """Run a failed job again (its uploaded file was kept)."""
        with self._lock:
            job = self._find(job_id)
            if "retry" not in job.get("actions", []):
                raise InvalidUpload(f"job {job_id} is {job['state']}; only a failed job can be retried", 409)
            job.update(state="queued", outcome="", finished=None, done=0, total=0, actions=[], _undo={},
                       submitted=_when(time.time()), by=by or job["by"], owner=self._owner)
            self._jobs.remove(job)
            self._jobs.insert(0, job)
            self._save(job)
            self._start_worker()
        self._queue.put(job)
        return _public(job)

    def remove(self, job_id: str, by: str = "") -> dict:
        """Give up a failed job: nothing of it is applied; an uploaded file goes to .trash/ (it can be restored)."""
        with self._lock:
            job = self._find(job_id)
            if "remove" not in job.get("actions", []):
                raise InvalidUpload(f"job {job_id} is {job['state']}; only a failed job can be removed", 409)
            held = self._held(job)
            where = ""
            if job["action"] == "upload" and held.exists():
                spec = job["_spec"]
                dest = self._trash_name(spec["name"])
                self._write_sidecar(dest, {"file": spec["name"], "entry": {**spec["fields"], "title": spec["fields"].get("title")
                                                                           or spec.get("title")},
                                           "deleted": _when(time.time()), "by": by, "job": job["id"]})
                held.replace(self.kdir / TRASH / dest)
                where = f"; the uploaded file is in {TRASH}/{dest}"
            job.update(state="removed", actions=[], outcome=f"removed: nothing of it was applied{where}",
                       finished=_when(time.time()))
            self._forget(job)
        return _public(job)

    def _find(self, job_id: str) -> dict:
        for j in self._jobs:
            if j["id"] == job_id:
                return j
        raise NotFound(f"no document job {job_id!r}")

    def _trash_item(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith(".") or name in ("..",):
            raise NotFound(f"{name!r} is not in {TRASH}/; GET /api/trash lists what is")
        item = self.kdir / TRASH / name
        if not item.is_file():
            raise NotFound(f"{name!r} is not in {TRASH}/; GET /api/trash lists what is")
        return item

    def _editable(self, doc_id: str) -> dict:
        row = self._row(doc_id)
        if not row["editable"]:
            raise InvalidUpload(f"{row['title']} comes from {GLOSSARY}; edit that file on the server instead", 400)
        return row

    def _present(self) -> dict[str, str]:
        files, _ = discover(self.kdir, 2**62)
        return {rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in files}

    # ---- the journal -----------------------------------------------------------------------------
    @property
    def _journal(self) -> Path:
        return self.kdir / JOBS

    def _held(self, job: dict) -> Path:
        return self._journal / job["id"] / "upload"

    def _claim(self) -> None:
        """Hold this process's lock file for its life: while it is held, its jobs are nobody else's to recover."""
        with self._claim_lock:
            if self._owner_fd is not None:
                return
            self._journal.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._journal / f"owner-{self._owner}.lock", os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._owner_fd = fd

    def _alive(self, owner: str) -> bool:
        if owner == self._owner:
            return True
        path = self._journal / f"owner-{owner}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the lock taken
        path.unlink(missing_ok=True)
        return False

    def _save(self, job: dict) -> None:
        self._claim()
        record = {k: v for k, v in job.items()}
        record["owner"] = self._owner
        tmp = self._journal / f".{job['id']}.json.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self._journal / f"{job['id']}.json")

    def _forget(self, job: dict) -> None:
        """The job ended for good: its record and what it held go."""
        (self._journal / f"{job['id']}.json").unlink(missing_ok=True)
        shutil.rmtree(self._journal / job["id"], ignore_errors=True)

    def _recover(self) -> None:
        """Unfinished jobs of processes that died: undone (or found done) and listed as failed, with retry and remove."""
        if not self._journal.is_dir():
            return
        self._claim()
        fd = os.open(self._journal / "recover.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one recoverer at a time; records are read again under the lock
            owners = {p.name[len("owner-"):-len(".lock")] for p in self._journal.glob("owner-*.lock")}
            for path in sorted(self._journal.glob("*.json")):
                try:
                    job = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    log.warning("document job record %s cannot be read; left as it is", path)
                    continue
                if self._alive(job.get("owner", "")) or any(j["id"] == job["id"] for j in self._jobs):
                    continue
                self._adopt(job)
            for owner in owners:
                self._alive(owner)  # the lock file of a process that ended goes
        finally:
            os.close(fd)

    def _adopt(self, job: dict) -> None:
        job.pop("owner", None)
        state = job.get("state")
        if state == "indexing" and job.get("_undo", {}).get("ingesting") and self._committed(job):
            job.update(state="done", actions=[], finished=_when(time.time()),
                       outcome=f"done: the index had taken this {job['action']} when the server stopped")
            self._forget(job)
        else:
            if state == "queued":
                why = "interrupted before it began (the server stopped); nothing of it was applied"
            elif state == "indexing":
                self._undo(job)
                why = "interrupted while indexing (the server stopped); its changes were undone, nothing of it is indexed"
            else:
                why = (job.get("outcome") or "failed").removeprefix("failed: ")
            job.update(state="failed", actions=list(ACTIONS), finished=job.get("finished") or _when(time.time()),
                       outcome=f"failed: {why}; retry or remove it", _undo={})
            self._save(job)
        log.warning("document job %s (%s %s), left unfinished by a process that stopped: %s", job["id"], job["action"],
                    job["file"], job["outcome"])
        with self._lock:
            self._jobs.insert(0, job)
            self._trim()

    def _committed(self, job: dict) -> bool:
        """The index holds the job's file exactly as the folder holds it now (the ingest was committed)."""
        rel = job["_spec"].get("file") or job["_spec"].get("name")
        try:
            state, _ = self._index()
        except AssistantError:
            return False
        indexed = ((state.get("fingerprint") or {}).get("files") or {}).get(rel)
        path = self.kdir / rel
        now = fingerprint(self.settings, self.assistant.retriever.embedder.name,
                          [(rel, path)] if path.is_file() else [], [])["files"].get(rel)
        return indexed == now

    def _undo(self, job: dict) -> None:
        """Put the folder back as it was before the job: what it created goes, what it moved comes back,
        its entry is restored. Each step is checked against the folder, so undoing twice does no harm."""
        undo = job.get("_undo") or {}
        for rel, sha in reversed(undo.get("created", [])):
            p = self.kdir / rel
            if p.is_file() and not p.is_symlink() and hashlib.sha256(p.read_bytes()).hexdigest() == sha:
                p.unlink()
        for src, dst in reversed(undo.get("moves", [])):
            s, d = self.kdir / src, self.kdir / dst
            if (d.exists() or d.is_symlink()) and not (s.exists() or s.is_symlink()):
                s.parent.mkdir(parents=True, exist_ok=True)
                d.replace(s)
        for side in undo.get("sidecars", []):
            (self.kdir / TRASH / ENTRIES / f"{side}.json").unlink(missing_ok=True)
        if "entry" in undo:
            self._restore_entry(undo["entry"]["file"], undo["entry"]["before"])

    # ---- sources.yaml entries and the trash --------------------------------------------------------
    def _raw_entry(self, rel: str) -> dict | None:
        """The file's entry in sources.yaml as written (its id and editable fields), or None."""
        path = self.kdir / MANIFEST
        if not path.exists():
            return None
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for e in data.get("documents") or []:
            if isinstance(e, dict) and e.get("file") == rel:
                return {"id": e.get("id"), **{k: (None if e.get(k) is None else str(e.get(k))) for k in EDITABLE}}
        return None

    def _restore_entry(self, rel: str, before: dict | None) -> None:
        if before is None:
            if self._raw_entry(rel) is not None:
                write_entry(self.kdir, rel, None)
        else:
            write_entry(self.kdir, rel, {k: before.get(k) or "" for k in EDITABLE}, before.get("id"))

    def _sidecar(self, name: str) -> dict:
        path = self.kdir / TRASH / ENTRIES / f"{name}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _write_sidecar(self, name: str, record: dict) -> None:
        folder = self.kdir / TRASH / ENTRIES
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    @staticmethod
    def _trash_name(rel: str) -> str:
        return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}-{Path(rel).name}"

    def _to_trash(self, job: dict, rel: str) -> str:
        """Move a file of the folder to .trash/ with its entry beside it, journaled first; its name there."""
        dest = self._trash_name(rel)
        undo = job["_undo"]
        undo["moves"].append([rel, f"{TRASH}/{dest}"])
        undo["sidecars"].append(dest)
        self._save(job)
        (self.kdir / TRASH).mkdir(exist_ok=True)
        self._write_sidecar(dest, {"file": rel, "entry": self._raw_entry(rel), "deleted": _when(time.time()),
                                   "by": job["by"], "job": job["id"]})
        (self.kdir / rel).replace(self.kdir / TRASH / dest)
        return dest

    # ---- the worker ------------------------------------------------------------------------------
    def _submit(self, action: str, name: str, by: str, spec: dict, data: bytes | None = None) -> dict:
        job = {"id": uuid.uuid4().hex[:12], "action": action, "file": name, "by": by, "state": "queued",
               "outcome": "", "submitted": _when(time.time()), "finished": None, "done": 0, "total": 0, "actions": [],
               "_spec": spec, "_undo": {}}
        self._claim()
        if data is not None:  # the upload's bytes wait in the journal, not in memory, until the job ends
            self._held(job).parent.mkdir(parents=True, exist_ok=True)
            tmp = self._held(job).with_name(".upload.tmp")
            tmp.write_bytes(data)
            tmp.replace(self._held(job))
        self._save(job)
        with self._lock:
            self._jobs.insert(0, job)
            self._trim()
            self._start_worker()
        self._queue.put(job)
        return _public(job)

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="cimic-library", daemon=True)
            self._worker.start()

    def _trim(self) -> None:
        ended = [j for j in self._jobs if j["state"] in ("done", "failed", "removed") and not j.get("actions")]
        for j in ended[KEEP_JOBS:]:
            self._jobs.remove(j)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job["state"] != "queued":
                    continue
                self._recover()  # jobs a dead process left are undone first: this one never finishes them
                with self._lock:
                    job["state"], self._running = "indexing", job
                job["_undo"] = {"moves": [], "created": [], "sidecars": []}
                self._save(job)
                outcome = getattr(self, f"_apply_{job['action']}")(job)
                job.update(outcome=outcome, state="done")
                self._forget(job)
            except Exception as exc:  # noqa: BLE001 - one job failing must not stop the queue
                self._failed(job, exc)
            finally:
                with self._lock:
                    job["finished"], self._running = _when(time.time()), None
                    self._trim()
                self._queue.task_done()

    def _failed(self, job: dict, exc: Exception) -> None:
        if not isinstance(exc, AssistantError):
            log.exception("document job %s failed", job["id"], exc_info=exc)
        message = exc.message if isinstance(exc, AssistantError) else f"{exc.__class__.__name__}: {exc}"
        try:
            self._undo(job)
            if job["_undo"].get("ingested"):
                self._ingest(job)  # the index took the change before the job failed: it follows the folder back
        except Exception:  # noqa: BLE001 - the job stays journaled: the next recovery tries again
            log.exception("document job %s could not be undone", job["id"])
            job.update(state="failed", outcome=f"failed: {message}", actions=list(ACTIONS))
            self._save(job)
            return
        job["_undo"] = {}
        if isinstance(exc, Refused):
            job.update(state="failed", outcome=f"refused: {message}; nothing was written", actions=[])
            self._forget(job)
        else:
            job.update(state="failed", outcome=f"failed: {message}; nothing of it was applied", actions=list(ACTIONS))
            self._save(job)

    def wait(self, timeout: float = 600) -> bool:
        """Block until every queued job has ended (for the CLI and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    def status(self) -> dict:
        """idle, or indexing with the running job's progress; the jobs waiting, the recent ones, and the failed
        ones that wait for "retry" or "remove" (`failed`)."""
        with self._lock:
            jobs = [_public(j) for j in self._jobs]
            running = _public(self._running) if self._running else None
        ended = [j for j in jobs if j["state"] in ("done", "failed", "removed")]
        return {"state": "indexing" if running else "idle", "job": running,
                "queued": [j for j in jobs if j["state"] == "queued"], "recent": ended,
                "failed": [j for j in ended if j.get("actions")]}

    def job(self, job_id: str) -> dict:
        with self._lock:
            return _public(self._find(job_id))

    # ---- the worker's steps ----------------------------------------------------------------------
    def _apply_upload(self, job: dict) -> str:
        spec, undo = job["_spec"], job["_undo"]
        name = spec["name"]
        target, held = self.kdir / name, self._held(job)
        if not held.exists():
            raise Refused(f"the uploaded file of this job is gone from {JOBS}/; upload {name} again", 410)
        replaced = target.exists() or target.is_symlink()
        if replaced and not spec["replace"]:  # another upload of the same name was queued first and has landed
            raise Refused(f"a document named {name} was added while this one waited; send it again "
                          "with replace=true to replace it", 409)
        if target.is_symlink():
            raise Refused(f"{name} is a link in the knowledge folder; it cannot be replaced from the page", 400)
        before = self._raw_entry(name)
        undo["entry"] = {"file": name, "before": before}
        self._save(job)
        if replaced:
            self._to_trash(job, name)
        doc_id = self._free_id(name)
        fields = {"title": (before or {}).get("title") or spec.get("title") or Path(name).stem.replace("_", " "),
                  **spec["fields"]}
        undo["created"].append([name, spec["sha"]])
        self._save(job)
        placing = held.with_name(".placing")
        shutil.copyfile(held, placing)
        placing.replace(target)
        write_entry(self.kdir, name, fields, doc_id)
        self._ingest(job)
        mine = self._indexed(name)
        if not mine:
            raise Refused(f"{name} yields no passage to index (a passage needs at least 3 words)")
        pages = f", {spec['pages']} pages" if spec.get("pages") else ""
        return f"{'replaced' if replaced else 'indexed'}: {len(mine)} chunks{pages}"

    def _apply_edit(self, job: dict) -> str:
        spec, undo = job["_spec"], job["_undo"]
        undo["entry"] = {"file": spec["file"], "before": self._raw_entry(spec["file"])}
        self._save(job)
        write_entry(self.kdir, spec["file"], spec["fields"], spec["doc_id"])
        self._ingest(job)
        return "updated: " + ", ".join(f"{k} {v!r}" if v else f"{k} removed" for k, v in spec["fields"].items())

    def _apply_delete(self, job: dict) -> str:
        spec, undo = job["_spec"], job["_undo"]
        path = self.kdir / spec["file"]
        undo["entry"] = {"file": spec["file"], "before": self._raw_entry(spec["file"])}
        self._save(job)
        moved = self._to_trash(job, spec["file"]) if path.exists() or path.is_symlink() else None
        write_entry(self.kdir, spec["file"], None)
        self._ingest(job)
        where = f"; the file is in {TRASH}/{moved} (restore brings it back)" if moved else ""
        return f"deleted: {spec['chunks']} chunks left the index{where}"

    def _apply_restore(self, job: dict) -> str:
        spec, undo = job["_spec"], job["_undo"]
        rel, item = spec["file"], self.kdir / TRASH / spec["trash"]
        target = self.kdir / rel
        if not item.is_file():
            raise Refused(f"{spec['trash']} is no longer in {TRASH}/", 404)
        if target.exists() or target.is_symlink():
            raise Refused(f"a document named {rel} came into the knowledge folder while this waited; delete it first", 409)
        side = self._sidecar(spec["trash"])
        undo["entry"] = {"file": rel, "before": self._raw_entry(rel)}
        undo["moves"].append([f"{TRASH}/{spec['trash']}", rel])
        self._save(job)
        target.parent.mkdir(parents=True, exist_ok=True)
        item.replace(target)
        entry = side.get("entry") or {}
        doc_id = self._free_id(rel, entry.get("id"))
        fields = {k: entry[k] for k in EDITABLE if entry.get(k)}
        fields.setdefault("title", Path(rel).stem.replace("_", " "))
        write_entry(self.kdir, rel, fields, doc_id)
        self._ingest(job)
        mine = self._indexed(rel)
        (self.kdir / TRASH / ENTRIES / f"{spec['trash']}.json").unlink(missing_ok=True)
        return f"restored: {len(mine)} chunks"

    def _free_id(self, rel: str, wanted: str | None = None) -> str:
        """A document id no other document has: `wanted` (its id before it was deleted) when free, else the file's
        slug, with a random suffix while another document holds it."""
        taken = {e.doc_id for r, e in load_manifest(self.kdir).documents.items() if r != rel}
        doc_id = wanted if wanted and wanted not in taken else slug(rel)
        while doc_id in taken:
            doc_id = f"{slug(rel)}-{uuid.uuid4().hex[:4]}"
        return doc_id

    def _indexed(self, rel: str) -> list:
        """The passages the index now holds of `rel` (its catalogue card left out); Refused with the ingest's reason
        when it skipped the file."""
        state, chunks = self._index()
        failed = dict(state.get("skipped", []))
        if rel in failed:
            raise Refused(f"{rel}: {failed[rel]}")
        return [c for c in chunks.values() if c.path == rel and c.kind != "document"]

    def _ingest(self, job: dict) -> None:
        """The incremental ingest, waiting while another one (a `cimic ingest` in a terminal) holds the index."""
        def progress(done, total):
            job["done"], job["total"] = done, total

        job["_undo"]["ingesting"] = True
        self._save(job)
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
        job["_undo"]["ingested"] = True
        self._save(job)
        log.warning("document job %s (%s %s): %s", job["id"], job["action"], job["file"], report.summary().splitlines()[0])
        self.assistant.retriever.refresh_if_changed()


def _public(job: dict) -> dict:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in job.items() if not k.startswith("_")}


def _when(t: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else None
