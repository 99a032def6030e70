"""Thumbs and comments on answers, stored with the question, the answer, its citations and a timestamp.

SQLite by default (`CIMIC_FEEDBACK_DB`), any SQLAlchemy URL (PostgreSQL for several replicas). Every text
is checked before anything is written (`fields.check_text`: no unpaired surrogate, no NUL byte). A
write that meets a locked database waits for it (busy timeout, then retries); if the database stays
unavailable the entry is appended to a spool file and written on the next successful write, so that a
trainee's feedback is never lost. The spool lives in `spool_dir` (the server passes CIMIC_DATA_DIR), else
beside a SQLite file, else in `var/` under the working directory, never in the package. An entry the
database refuses for its content (not for being busy) goes at once to the `.rejected.jsonl` file beside the
spool, and the entries behind it are written. Leaves out: editing or deleting feedback.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assistant.errors import ConfigError, InvalidFeedback
from assistant.userdata.fields import check_text
from assistant.userdata.spreadsheet import inert_cell

log = logging.getLogger("cimic")
RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000


@dataclass
class Feedback:
    rating: str
    question: str
    answer: str
    citations: list  # [{n, doc_id, title, section, chunk_id}]
    comment: str = ""
    backend: str = ""
    grounding: float | None = None
    user: str = ""
    created_at: str = ""

    def validated(self) -> "Feedback":
        if self.rating not in RATINGS:
            raise InvalidFeedback(f"rating must be one of {', '.join(RATINGS)}, not {self.rating!r}")
        if not (self.question or "").strip() or not (self.answer or "").strip():
            raise InvalidFeedback("feedback needs the question and the answer it is about")
        if len(self.comment or "") > MAX_COMMENT_CHARS:
            raise InvalidFeedback(f"the comment is {len(self.comment):,} characters; the limit is {MAX_COMMENT_CHARS:,}")
        for name in ("question", "answer", "comment", "backend", "user", "citations"):
            check_text(name, getattr(self, name) or "", InvalidFeedback)
        if self.grounding is not None and not (isinstance(self.grounding, (int, float)) and math.isfinite(self.grounding)
                                               and 0 <= self.grounding <= 1):
            raise InvalidFeedback(f"grounding must be a number from 0 to 1, not {self.grounding!r}")
        self.created_at = self.created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        return self

    def row(self) -> dict:
        return {"created_at": self.created_at, "rating": self.rating, "comment": self.comment or "",
                "question": self.question, "answer": self.answer, "citations": json.dumps(self.citations),
                "backend": self.backend, "grounding": self.grounding, "user": self.user}

    @classmethod
    def on_answer(cls, answer: dict, rating: str, comment: str = "", user: str = "") -> "Feedback":
        """Feedback on an Answer (its dict): the question, the text, the back-end, the grounding and what
        is kept of its citations, enough to find the passages again, not their whole text."""
        keep = ("n", "doc_id", "title", "section", "page", "chunk_id")
        return cls(rating=rating, question=answer["question"], answer=answer["answer"],
                   citations=[{k: c.get(k) for k in keep} for c in answer.get("citations", [])],
                   comment=(comment or "").strip(), backend=answer.get("backend", ""),
                   grounding=answer.get("grounding"), user=user)


def refused_for_content(exc: BaseException) -> bool:
    """Whether the database refused a row for what it holds (it will refuse it again), rather than for being
    busy or unreachable (worth waiting for): a data or integrity error, or text the driver cannot send."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

    if isinstance(exc, (DataError, IntegrityError, ValueError, TypeError)):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class FeedbackStore:
    def __init__(self, url: str, busy_timeout_s: float = 10.0, retries: int = 3, spool_dir: Path | None = None):
        from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

        from assistant.userdata.database import open_engine

        self.retries = retries
        self.engine, db_file = open_engine(url, busy_timeout_s)

        meta = MetaData()
        self.table = Table(
            "feedback", meta,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("created_at", String(40), nullable=False),
            Column("rating", String(8), nullable=False, index=True),
            Column("comment", Text, nullable=False, default=""),
            Column("question", Text, nullable=False),
            Column("answer", Text, nullable=False),
            Column("citations", Text, nullable=False),
            Column("backend", String(64)),
            Column("grounding", Float),
            Column("user", String(200)),
        )
        name = f"{db_file.name}.spool.jsonl" if db_file else "feedback.spool.jsonl"
        folder = Path(spool_dir) if spool_dir else db_file.parent if db_file else Path.cwd() / "var"
        self._spool = folder / name
        self._rejected = self._spool.with_name(self._spool.stem + ".rejected.jsonl")
        self._lock = threading.Lock()
        try:
            meta.create_all(self.engine)
        except Exception as exc:  # noqa: BLE001 - a database that cannot be opened is reported by name
            raise ConfigError(f"the feedback database {self.safe_url} cannot be opened ({exc.__class__.__name__}); "
                              "check CIMIC_FEEDBACK_DB") from exc

    @classmethod
    def from_settings(cls, settings) -> "FeedbackStore":
        """The store the settings name: CIMIC_FEEDBACK_DB, its spool in CIMIC_DATA_DIR."""
        return cls(settings.feedback_db, spool_dir=settings.data_dir)

    @property
    def safe_url(self) -> str:
        from assistant.userdata.database import safe_url

        return safe_url(self.engine)

    @property
    def spool_path(self) -> Path:
        return self._spool

    def add(self, fb: Feedback) -> str:
        """Store one entry. Returns "stored", or "spooled" when the database was unavailable and the entry
        waits in the spool file for the next write. An entry the database refuses for its content is set
        aside in the `.rejected.jsonl` file and refused (InvalidFeedback), never spooled."""
        row = fb.validated().row()
        for attempt in range(self.retries):
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), [row])
                break
            except Exception as exc:  # noqa: BLE001 - locked or unreachable: wait and try again, then spool
                if refused_for_content(exc):
                    with self._lock:
                        self._reject([json.dumps(row)])
                    raise InvalidFeedback(f"the feedback database refused this entry for what it holds "
                                          f"({exc.__class__.__name__}); it was set aside for the administrator") from exc
                time.sleep(0.2 * (attempt + 1))
        else:
            with self._lock:
                self._spool.parent.mkdir(parents=True, exist_ok=True)
                with self._spool.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
            return "spooled"
        try:  # this entry is stored: a spool that cannot be written now waits for the next write
            self._drain()
        except Exception:  # noqa: BLE001
            log.warning("feedback spool %s could not be written yet; it is kept", self._spool)
        return "stored"

    def _reject(self, lines: list[str]) -> None:
        """Set entries aside for good (the caller holds the lock)."""
        self._rejected.parent.mkdir(parents=True, exist_ok=True)
        with self._rejected.open("a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
        log.warning("%d feedback entries cannot be stored; moved to %s", len(lines), self._rejected)

    def _drain(self) -> None:
        """Write entries that were spooled while the database was unavailable. An entry that can never be
        stored (it fails validation, or the database refuses it for its content) is moved to the
        `.rejected.jsonl` file at once, so that it cannot block the others; when the database is busy again,
        the entries not yet written stay in the spool, in order."""
        if not self._spool.exists():
            return
        with self._lock:
            if not self._spool.exists():
                return
            good, bad = [], []
            for line in self._spool.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    Feedback(**{**row, "citations": json.loads(row.get("citations") or "[]")}).validated()
                    good.append((line, row))
                except (ValueError, TypeError, InvalidFeedback):
                    bad.append(line)
            if bad:
                self._reject(bad)
            try:
                with self.engine.begin() as conn:  # the usual case: all of them at once
                    if good:
                        conn.execute(self.table.insert(), [row for _, row in good])
                left = []
            except Exception as exc:  # noqa: BLE001
                if not refused_for_content(exc):
                    left = [line for line, _ in good]  # busy again: the spool keeps them all
                else:
                    left = self._one_by_one(good)
            self._rewrite(left)

    def _one_by_one(self, entries: list[tuple[str, dict]]) -> list[str]:
        """Each entry in its own transaction: those refused for their content are set aside; at the first
        sign of a busy database, that entry and those behind it are returned, to stay in the spool."""
        for i, (line, row) in enumerate(entries):
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), [row])
            except Exception as exc:  # noqa: BLE001
                if not refused_for_content(exc):
                    return [line for line, _ in entries[i:]]
                self._reject([line])
        return []

    def _rewrite(self, lines: list[str]) -> None:
        if not lines:
            self._spool.unlink()
            return
        fresh = self._spool.with_name(self._spool.name + ".tmp")
        fresh.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(fresh, self._spool)

    def pending(self) -> int:
        return len(self._spool.read_text(encoding="utf-8").splitlines()) if self._spool.exists() else 0

    def list(self, rating: str | None = None, limit: int = 200) -> list[dict]:
        from sqlalchemy import select

        q = select(self.table).order_by(self.table.c.id.desc()).limit(limit)
        if rating:
            q = q.where(self.table.c.rating == rating)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        for r in rows:
            r["citations"] = json.loads(r["citations"] or "[]")
            if r["grounding"] is not None and not math.isfinite(r["grounding"]):  # stored before it was checked
                r["grounding"] = None
        return rows

    def count(self) -> int:
        from sqlalchemy import func, select

        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.table)).scalar_one()

    def export_csv(self, path: Path) -> int:
        rows = self.list(limit=10**9)
        rows.reverse()
        fields = ["id", "created_at", "rating", "comment", "question", "answer", "citations", "backend", "grounding", "user"]
        with Path(path).open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for r in rows:
                r = {**r, "citations": "; ".join(f"[{c.get('n')}] {c.get('title')} - {c.get('section')}" for c in r["citations"])}
                w.writerow({k: inert_cell(v) for k, v in r.items()})
        return len(rows)
