"""Trainees' conversations, saved as they happen: each question with its answer (citations, grounding,
time), for the user who asked it.

An owner is a login name, or, without a login, an id the browser keeps ("client:<id>"); every read
and write names its owner, and a conversation of another owner is "not found", never shown. Stored in
the same database as feedback (`database.open_engine`: SQLite WAL by default, any SQLAlchemy URL).
The title is the first question until the owner renames it. `markdown(...)` exports a conversation with
the cited passages as footnotes. Leaves out: sharing a conversation with another user.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

from assistant.errors import InvalidQuestion

MAX_TITLE_CHARS = 120
_CLIENT = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def owner_of(user_name: str, client_id: str | None) -> str | None:
    """Whose conversations a request reads and writes: the login name, else the browser's id, else nobody
    (an anonymous caller that sends no id has nothing saved)."""
    if user_name:
        return user_name
    if client_id and _CLIENT.match(client_id):
        return f"client:{client_id}"
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # orders turns asked within a second


def _title(question: str) -> str:
    words = " ".join(question.split())
    return words if len(words) <= MAX_TITLE_CHARS else words[:MAX_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"


class ConversationStore:
    def __init__(self, url: str):
        from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, Text

        from assistant.userdata.database import open_engine

        self.engine, _ = open_engine(url)
        meta = MetaData()
        self.conversations = Table(
            "conversations", meta,
            Column("id", String(32), primary_key=True),
            Column("owner", String(200), nullable=False, index=True),
            Column("title", String(200), nullable=False),
            Column("created_at", String(40), nullable=False),
            Column("updated_at", String(40), nullable=False),
        )
        self.turns = Table(
            "conversation_turns", meta,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
            Column("question", Text, nullable=False),
            Column("answer", Text, nullable=False),  # the Answer contract as JSON
            Column("created_at", String(40), nullable=False),
        )
        meta.create_all(self.engine)

    def _owned(self, conn, owner: str, conversation_id: str):
        from assistant.userdata.database import owned_row

        return owned_row(conn, self.conversations, owner, conversation_id,
                         f"no conversation {conversation_id!r} of yours; GET /api/conversations lists them")

    def add_turn(self, owner: str, conversation_id: str | None, question: str, answer: dict) -> str:
        """Save one question and its answer; a new conversation when `conversation_id` is None. Returns its id."""
        now = _now()
        with self.engine.begin() as conn:
            if conversation_id:
                self._owned(conn, owner, conversation_id)
                conn.execute(self.conversations.update().where(self.conversations.c.id == conversation_id)
                             .values(updated_at=now))
            else:
                conversation_id = uuid.uuid4().hex
                conn.execute(self.conversations.insert().values(id=conversation_id, owner=owner, title=_title(question),
                                                                 created_at=now, updated_at=now))
            conn.execute(self.turns.insert().values(conversation_id=conversation_id, question=question,
                                                    answer=json.dumps(answer, ensure_ascii=False), created_at=now))
        return conversation_id

    def list(self, owner: str, limit: int = 200) -> list[dict]:
        """The owner's conversations, most recently used first."""
        from sqlalchemy import func, select

        c, t = self.conversations, self.turns
        q = (select(c.c.id, c.c.title, c.c.created_at, c.c.updated_at, func.count(t.c.id).label("turns"))
             .join(t, t.c.conversation_id == c.c.id, isouter=True).where(c.c.owner == owner)
             .group_by(c.c.id).order_by(c.c.updated_at.desc(), c.c.created_at.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def get(self, owner: str, conversation_id: str) -> dict:
        from sqlalchemy import select

        with self.engine.connect() as conn:
            row = dict(self._owned(conn, owner, conversation_id)._mapping)
            turns = conn.execute(select(self.turns).where(self.turns.c.conversation_id == row["id"]).order_by(self.turns.c.id))
            row["turns"] = [{"question": r.question, "answer": json.loads(r.answer), "created_at": r.created_at} for r in turns]
        row.pop("owner", None)
        return row

    def history(self, owner: str, conversation_id: str) -> list[list[str]]:
        """The conversation's earlier [question, answer text] turns, for a follow-up."""
        return [[t["question"], t["answer"].get("answer", "")] for t in self.get(owner, conversation_id)["turns"]]

    def rename(self, owner: str, conversation_id: str, title: str) -> None:
        title = " ".join((title or "").split())
        if not title or len(title) > MAX_TITLE_CHARS:
            raise InvalidQuestion(f"a conversation's title must be 1 to {MAX_TITLE_CHARS} characters")
        with self.engine.begin() as conn:
            self._owned(conn, owner, conversation_id)
            conn.execute(self.conversations.update().where(self.conversations.c.id == conversation_id).values(title=title))

    def delete(self, owner: str, conversation_id: str) -> None:
        with self.engine.begin() as conn:
            self._owned(conn, owner, conversation_id)
            conn.execute(self.turns.delete().where(self.turns.c.conversation_id == conversation_id))
            conn.execute(self.conversations.delete().where(self.conversations.c.id == conversation_id))


def markdown(conversation: dict) -> str:
    """A conversation as Markdown: each question and answer, the answer's [n] marks turned into footnotes
    that quote the cited passage with its title, section and page."""
    out = [f"# {conversation['title']}", "", f"_Saved {conversation['created_at']}_", ""]
    note = 0
    for turn in conversation["turns"]:
        a = turn["answer"]
        numbers = {}
        for c in a.get("citations", []):
            note += 1
            numbers[c["n"]] = note
        text = re.sub(r"\[(\d+)\]", lambda m: f"[^{numbers[int(m.group(1))]}]" if int(m.group(1)) in numbers else m.group(0),
                      a.get("answer", ""))
        out += [f"**Question:** {turn['question']}", "", text, ""]
        for c in a.get("citations", []):
            where = c.get("title", "") + (f", {c['section']}" if c.get("section") else "") + (f", p. {c['page']}" if c.get("page") else "")
            passage = " ".join(str(c.get("text", "")).split())
            out.append(f"[^{numbers[c['n']]}]: {where}: “{passage}”")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
