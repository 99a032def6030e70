"""Thumbs and comments on answers, stored with the question, the answer, its citations and a timestamp.

SQLite by default (`CIMIC_FEEDBACK_DB`), any SQLAlchemy URL (PostgreSQL for several replicas). A
write that meets a locked database waits for it (busy timeout, then retries); if the database stays
unavailable the entry is appended to a spool file beside it and written on the next successful
write, so that a trainee's feedback is never lost. Leaves out: editing or deleting feedback.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assistant.config import ROOT
from assistant.errors import ConfigError, InvalidFeedback
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
        for name in ("question", "answer", "comment", "backend", "user"):
            _check_text(name, getattr(self, name) or "")
        _check_text("citations", json.dumps(self.citations, ensure_ascii=False))
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


def _check_text(name: str, value: str) -> None:
    """Text that cannot be stored (a lone surrogate such as \\ud800 is not Unicode text) is refused up front."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidFeedback(f"the {name} holds a character that is not valid text ({value[exc.start]!r} at "
                              f"position {exc.start}); remove it and send again") from exc


class FeedbackStore:
    def __init__(self, url: str, busy_timeout_s: float = 10.0, retries: int = 3):
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
        self._spool = db_file.with_name(db_file.name + ".spool.jsonl") if db_file else ROOT / "var" / "feedback.spool.jsonl"
        self._lock = threading.Lock()
        try:
            meta.create_all(self.engine)
        except Exception as exc:  # noqa: BLE001 - a database that cannot be opened is reported by name
            raise ConfigError(f"the feedback database {self.safe_url} cannot be opened ({exc.__class__.__name__}); "
                              "check CIMIC_FEEDBACK_DB") from exc

    @property
    def safe_url(self) -> str:
        from assistant.userdata.database import safe_url

        return safe_url(self.engine)

    def add(self, fb: Feedback) -> str:
        """Store one entry. Returns "stored", or "spooled" when the database was unavailable and the entry
        waits in the spool file for the next write."""
        row = fb.validated().row()
        for attempt in range(self.retries):
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), [row])
                break
            except Exception:  # noqa: BLE001 - locked or unreachable: wait and try again, then spool
                time.sleep(0.2 * (attempt + 1))
        else:
            with self._lock, self._spool.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            return "spooled"
        try:  # this entry is stored: a spool that cannot be written now waits for the next write
            self._drain()
        except Exception:  # noqa: BLE001
            log.warning("feedback spool %s could not be written yet; it is kept", self._spool)
        return "stored"

    def _drain(self) -> None:
        """Write entries that were spooled while the database was unavailable. An entry that can never be
        stored (it fails validation) is moved to a `.rejected.jsonl` file beside the spool, so that it
        cannot block the others."""
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
                    good.append(row)
                except (ValueError, TypeError, InvalidFeedback):
                    bad.append(line)
            if bad:
                with self._spool.with_name(self._spool.stem + ".rejected.jsonl").open("a", encoding="utf-8") as f:
                    f.write("\n".join(bad) + "\n")
                log.warning("%d spooled feedback entries cannot be stored; moved beside the spool", len(bad))
            if good:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), good)
            self._spool.unlink()

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
