"""Practice sessions: questions one at a time, each answer graded at once with its passage, progress kept.

`Tutor(bank, url)` stores sessions, attempts and each trainee's Leitner boxes in the SQL database
(`database.open_engine`: SQLite by default, any SQLAlchemy URL), keyed by the same owner as
conversations (a login name, or the browser's id). A session draws its questions from a topic: the
questions due again first (box 1 is due at once, box n after 2^(n-1) days), then those never tried,
then the rest, the new ones in an order seeded by the session's id, at most one question per passage while the topic
has other passages (the passage shown with one grade would answer the next). Where two questions of one passage
share a session ("practise these again", a topic of few passages), the first one's grade comes without its passage
(`passage_held_back` says so), and without the tutor's feedback, until the other has been answered. Where the
answer is, shown with a question, never names it (a glossary entry's section is its term: left out beside "What
does MDO stand for?"). A question never tried counts as
in box 1: a correct answer moves it up a box (a first right answer to box 2, due in 2 days), anything
else back to box 1. "Show answer" gives the question up (graded incorrect). At the end:
the score and the missed questions, which "practise these again" turns into a new session.
`progress()` names each topic as the topic list does (`label`) and counts the questions due again now and later.
`class_view()` gives instructors, per topic and per question, how many trainees tried and how many got
it right (their last try); `class_csv()` exports it. `feedback()` asks the coach (`coaching.py`, with a
chat model) for one grounded sentence on the session's last answer, after its grade has been shown. Each
question shown is handed to `Grader.prepare`, so that a chat model reads its prompt while the trainee types.
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from assistant.errors import InvalidQuestion, NotFound
from assistant.userdata.spreadsheet import inert_cell
from assistant.practice.coaching import Feedback
from assistant.practice.grader import Grader
from assistant.practice.grading import grade
from assistant.practice.questions import PracticeQuestion, QuestionBank, leaks

DEFAULT_LENGTH = 5
MAX_LENGTH = 20
TOP_BOX = 5


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def where_shown(q: PracticeQuestion) -> dict:
    """Where the answer is, as shown with the question: the document and its section, less what would give a key
    point away (a glossary entry's section is its term: "Multi-Domain Operations (MDO)" for "What does MDO stand
    for?"). No passage."""
    where = q.citation(with_text=False)
    for part in ("section", "title"):
        if where[part] and any(leaks(where[part], p) for p in q.key_points):
            where[part] = ""
    return where


def shown(q: PracticeQuestion, number: int, total: int) -> dict:
    """A question as the trainee sees it: its text, kind and where its answer is (not the passage)."""
    return {"id": q.id, "text": q.text, "kind": q.kind, "citations": [where_shown(q)], "number": number, "total": total}


HELD_BACK = "The passage is held back: a question still to come in this session is drawn from it."


def one_per_passage(ordered: list[PracticeQuestion], length: int) -> list[PracticeQuestion]:
    """The first `length` questions of `ordered`, at most one per passage while other passages have questions (the
    passage shown with one grade would answer the next); then, if the topic has too few passages, the others in
    their order, none right after another of its passage where that can be helped."""
    chosen, rest, passages = [], [], set()
    for q in ordered:
        (rest if q.chunk_id in passages else chosen).append(q)
        passages.add(q.chunk_id)
    if len(chosen) >= length:
        return chosen[:length]
    chosen = chosen[:length]
    for q in rest[:length - len(chosen)]:
        at = next((i for i in range(len(chosen), -1, -1) if (i == 0 or chosen[i - 1].chunk_id != q.chunk_id)
                   and (i == len(chosen) or chosen[i].chunk_id != q.chunk_id)), len(chosen))
        chosen.insert(at, q)
    return chosen


def _label_of(topic: str, title: str) -> str:
    """A topic's name for a trainee when the index no longer offers it (its document removed)."""
    if topic == "everything":
        return "Everything"
    if topic == "glossary":
        return "Glossary terms"
    return f"{title} › {topic.split('#', 1)[1]}" if "#" in topic else title


class Tutor:
    def __init__(self, bank: QuestionBank, url: str, coach=None, grader: Grader | None = None):
        from sqlalchemy import Column, Integer, MetaData, String, Table, Text

        from assistant.userdata.database import open_engine

        self.bank = bank
        self.coach = coach  # coaching.Coach, or None without a chat model
        self.grader = grader or Grader()  # with a chat model, its reading joins the key points (grader.py)
        self.engine, _ = open_engine(url)
        meta = MetaData()
        self.sessions = Table(
            "practice_sessions", meta,
            Column("id", String(32), primary_key=True),
            Column("owner", String(200), nullable=False, index=True),
            Column("topic", String(200), nullable=False),
            Column("questions", Text, nullable=False),  # question ids, in order (JSON)
            Column("position", Integer, nullable=False, default=0),
            Column("created_at", String(40), nullable=False),
            Column("finished_at", String(40)),
        )
        self.attempts = Table(
            "practice_attempts", meta,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("session_id", String(32), nullable=False, index=True),
            Column("owner", String(200), nullable=False, index=True),
            Column("topic", String(200), nullable=False),
            Column("question_id", String(32), nullable=False, index=True),
            Column("question", Text, nullable=False),
            Column("doc_title", String(300), nullable=False),
            Column("answer", Text, nullable=False),
            Column("grade", String(16), nullable=False),
            Column("found", Text, nullable=False),
            Column("missing", Text, nullable=False),
            Column("created_at", String(40), nullable=False),
        )
        self.boxes = Table(
            "practice_boxes", meta,
            Column("owner", String(200), primary_key=True),
            Column("question_id", String(32), primary_key=True),
            Column("box", Integer, nullable=False),
            Column("due_at", String(40), nullable=False),
        )
        meta.create_all(self.engine)

    # ---- sessions -------------------------------------------------------------------------------
    def topic_labels(self) -> dict[str, str]:
        return {key: label for label, key in self.bank.topics()}

    def topics(self) -> list[dict]:
        qs = self.bank.questions()
        counts = Counter(t for q in qs for t in q.topics)
        return [{"label": label, "topic": key, "questions": len(qs) if key == "everything" else counts[key]}
                for label, key in self.bank.topics(qs)]

    def start(self, owner: str, topic: str | None = None, length: int | None = None, again: list[str] | None = None) -> dict:
        topic = topic or "everything"
        length = DEFAULT_LENGTH if length is None else length
        if not 1 <= length <= MAX_LENGTH:
            raise InvalidQuestion(f"a practice session has 1 to {MAX_LENGTH} questions, not {length}")
        session_id = uuid.uuid4().hex
        if again:
            chosen = [q for q in (self.bank.get(i) for i in again[:MAX_LENGTH]) if q is not None]
        else:
            known = {key for _, key in self.bank.topics()}
            if topic not in known:
                raise InvalidQuestion(f"no practice topic {topic!r}; GET /api/practice/topics lists them")
            chosen = self._draw(owner, self.bank.of_topic(topic), length, session_id)
        if not chosen:
            raise InvalidQuestion("no practice question can be drawn from this topic yet")
        with self.engine.begin() as conn:
            conn.execute(self.sessions.insert().values(id=session_id, owner=owner, topic=topic,
                                                       questions=json.dumps([q.id for q in chosen]), position=0,
                                                       created_at=_iso(_now())))
        self.grader.prepare(chosen[0])
        return {"session_id": session_id, "topic": topic, "question": shown(chosen[0], 1, len(chosen))}

    def _draw(self, owner: str, pool: list[PracticeQuestion], length: int, seed: str) -> list[PracticeQuestion]:
        from sqlalchemy import select

        with self.engine.connect() as conn:
            boxes = {r.question_id: r for r in conn.execute(select(self.boxes).where(self.boxes.c.owner == owner))}
        rnd = random.Random(seed)
        now = _iso(_now())
        due = sorted((q for q in pool if q.id in boxes and boxes[q.id].due_at <= now), key=lambda q: boxes[q.id].due_at)
        new = [q for q in pool if q.id not in boxes]
        rest = sorted((q for q in pool if q.id in boxes and boxes[q.id].due_at > now), key=lambda q: boxes[q.id].due_at)
        rnd.shuffle(new)
        return one_per_passage(due + new + rest, length)

    def _session(self, conn, owner: str, session_id: str):
        from assistant.userdata.database import owned_row

        return owned_row(conn, self.sessions, owner, session_id,
                         f"no practice session {session_id!r} of yours; POST /api/practice starts one")

    def answer(self, owner: str, session_id: str, text: str | None, give_up: bool = False) -> dict:
        """Grade the answer to the session's current question; the next question, or the summary at the end."""
        from sqlalchemy import select

        if text is not None and len(text) > 4000:
            raise InvalidQuestion(f"the answer is {len(text):,} characters; the limit is 4,000")
        with self.engine.connect() as conn:
            row = self._session(conn, owner, session_id)
        ids, at = json.loads(row.questions), row.position
        if at >= len(ids):
            raise InvalidQuestion("this practice session is over; start a new one")
        q = self.bank.get(ids[at])
        if q is None:
            raise NotFound("this question left the index with its document; start a new session")
        result = self.grader.grade(q, text, gave_up=give_up)  # outside the transaction: a model's reading takes a second or two
        now, position = _now(), at + 1
        with self.engine.begin() as conn:
            moved = conn.execute(self.sessions.update().where(self.sessions.c.id == row.id, self.sessions.c.position == at)
                                 .values(position=position, finished_at=_iso(now) if position >= len(ids) else None))
            if moved.rowcount != 1:  # answered meanwhile, in another tab: the first answer counts
                raise InvalidQuestion("this question was answered meanwhile (in another tab?); the session has moved on")
            conn.execute(self.attempts.insert().values(
                session_id=row.id, owner=owner, topic=row.topic, question_id=q.id, question=q.text, doc_title=q.title,
                answer=text or "", grade=result.grade, found=json.dumps(result.found), missing=json.dumps(result.missing),
                created_at=_iso(now)))
            box = conn.execute(select(self.boxes).where(self.boxes.c.owner == owner, self.boxes.c.question_id == q.id)).first()
            level = min(TOP_BOX, (box.box if box else 1) + 1) if result.grade == "correct" else 1
            due = _iso(now + timedelta(days=2 ** (level - 1))) if result.grade == "correct" else _iso(now)
            if box:
                conn.execute(self.boxes.update().where(self.boxes.c.owner == owner, self.boxes.c.question_id == q.id)
                             .values(box=level, due_at=due))
            else:
                conn.execute(self.boxes.insert().values(owner=owner, question_id=q.id, box=level, due_at=due))
        later = [self.bank.get(i) for i in ids[position:]]
        held_back = any(n is not None and n.chunk_id == q.chunk_id for n in later)  # its passage would answer one to come
        out = {**result.as_dict(), "graded_by": self.grader.by, "question": shown(q, position, len(ids)), "key_points": list(q.key_points),
               "citations": [q.citation(with_text=False) if held_back else q.citation()],
               "passage_held_back": HELD_BACK if held_back else None, "next": None, "summary": None}
        if position < len(ids):
            nxt = self.bank.get(ids[position])
            out["next"] = shown(nxt, position + 1, len(ids)) if nxt else None
            if nxt:
                self.grader.prepare(nxt)
        if out["next"] is None:
            out["summary"] = self.summary(owner, session_id)
        return out

    def feedback(self, owner: str, session_id: str) -> dict:
        """One grounded sentence of feedback on the session's last graded answer (see `coaching.py`)."""
        from sqlalchemy import select

        with self.engine.connect() as conn:
            row = self._session(conn, owner, session_id)
            last = conn.execute(select(self.attempts).where(self.attempts.c.session_id == session_id)
                                .order_by(self.attempts.c.id.desc()).limit(1)).first()
        if last is None:
            raise InvalidQuestion("answer a question of this session first; feedback is on the last answer")
        q = self.bank.get(last.question_id)
        if q is None:
            raise NotFound("this question left the index with its document")
        later = [self.bank.get(i) for i in json.loads(row.questions)[row.position:]]
        if any(n is not None and n.chunk_id == q.chunk_id for n in later):  # the feedback would quote the passage
            said = Feedback(None, f"no written feedback yet: {HELD_BACK[0].lower()}{HELD_BACK[1:]}")
        elif self.coach is None:
            said = Feedback(None, "no written feedback: the extractive back-end has no chat model (CIMIC_LLM_BACKEND)")
        else:
            graded = replace(grade(q, last.answer, gave_up=not last.answer), grade=last.grade)  # the grade shown
            said = self.coach.feedback(q, last.answer, graded)
        return {**said.as_dict(), "question_id": q.id}

    def summary(self, owner: str, session_id: str) -> dict:
        from sqlalchemy import select

        with self.engine.connect() as conn:
            self._session(conn, owner, session_id)
            rows = list(conn.execute(select(self.attempts).where(self.attempts.c.session_id == session_id)
                                     .order_by(self.attempts.c.id)))
        points = {"correct": 1.0, "partial": 0.5, "incorrect": 0.0}
        missed = []
        for r in rows:
            if r.grade != "correct":
                q = self.bank.get(r.question_id)
                missed.append({"id": r.question_id, "text": r.question, "grade": r.grade, "answer": r.answer,
                               "citations": [q.citation()] if q else []})
        return {"answered": len(rows), "score": sum(points[r.grade] for r in rows), "correct": sum(r.grade == "correct" for r in rows),
                "missed": missed}

    # ---- progress ------------------------------------------------------------------------------
    def progress(self, owner: str) -> dict:
        """Per topic: sessions, questions tried, right, and the score of each session over time; questions due again."""
        from sqlalchemy import select

        with self.engine.connect() as conn:
            attempts = list(conn.execute(select(self.attempts).where(self.attempts.c.owner == owner).order_by(self.attempts.c.id)))
            boxes = list(conn.execute(select(self.boxes).where(self.boxes.c.owner == owner)))
        topics: dict[str, dict] = {}
        for a in attempts:
            t = topics.setdefault(a.topic, {"topic": a.topic, "answered": 0, "correct": 0, "partial": 0, "sessions": {}})
            t["answered"] += 1
            t["correct"] += a.grade == "correct"
            t["partial"] += a.grade == "partial"
            s = t["sessions"].setdefault(a.session_id, {"at": a.created_at[:16].replace("T", " "), "answered": 0, "correct": 0})
            s["answered"] += 1
            s["correct"] += a.grade == "correct"
        now = _iso(_now())
        labels, titles = self.topic_labels(), {a.topic: a.doc_title for a in attempts}
        for t in topics.values():
            t["sessions"] = list(t["sessions"].values())
            t["label"] = labels.get(t["topic"]) or _label_of(t["topic"], titles[t["topic"]])
        later = sorted(b.due_at for b in boxes if b.due_at > now)
        return {"topics": list(topics.values()), "due": sum(b.due_at <= now for b in boxes), "later": len(later),
                "next_due": later[0] if later else None,
                "boxes": {str(n): sum(b.box == n for b in boxes) for n in range(1, TOP_BOX + 1)}}

    def class_view(self) -> dict:
        """Per topic and per question: trainees who tried and who got it right at their last try."""
        from sqlalchemy import select

        with self.engine.connect() as conn:
            attempts = list(conn.execute(select(self.attempts).order_by(self.attempts.c.id)))
        last: dict[tuple[str, str], object] = {}
        for a in attempts:
            last[(a.owner, a.question_id)] = a
        questions: dict[str, dict] = {}
        topics: dict[str, dict] = {}
        for (owner, qid), a in last.items():
            q = questions.setdefault(qid, {"question_id": qid, "question": a.question, "document": a.doc_title,
                                           "tried": 0, "right": 0})
            q["tried"] += 1
            q["right"] += a.grade == "correct"
        for a in attempts:
            t = topics.setdefault(a.topic, {"topic": a.topic, "trainees": set(), "answers": 0, "correct": 0})
            t["trainees"].add(a.owner)
            t["answers"] += 1
            t["correct"] += a.grade == "correct"
        return {"topics": [{**t, "trainees": len(t["trainees"])} for t in topics.values()],
                "questions": sorted(questions.values(), key=lambda q: (q["right"] / q["tried"], q["question"]))}

    def class_csv(self, view: dict | None = None) -> str:
        """The class view's questions as CSV (of `view` when the caller has just read it)."""
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["question_id", "question", "document", "trainees_tried", "trainees_right"])
        for q in (view or self.class_view())["questions"]:
            w.writerow([q["question_id"], inert_cell(q["question"]), inert_cell(q["document"]), q["tried"], q["right"]])
        return out.getvalue()
