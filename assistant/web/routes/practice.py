"""Practice (`practice/tutor.py`): POST /api/practice, POST /api/practice/{session_id}/answer|feedback,
GET /api/practice/topics, GET /api/practice/progress (one's own), GET /api/practice/class (instructors;
`?format=csv`). Sessions belong to the same owner as conversations."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from assistant.web.routes.common import Checked, checked_params, instructor, owner, services

router = APIRouter(dependencies=[Depends(checked_params)])


class PracticeStart(Checked):
    topic: str | None = Field(None, max_length=200, description="a topic key (GET /api/practice/topics); default everything")
    length: int | None = Field(None, description="questions in the session, 1 to 20 (default 5)")
    again: list[str] | None = Field(None, max_length=20, description="question ids to practise again (from a summary)")


class PracticeAnswer(Checked):
    text: str = Field("", description="the trainee's answer (at most 4,000 characters)")
    give_up: bool = Field(False, description="show the answer: the question is graded incorrect")


@router.get("/api/practice/topics")
async def practice_topics(request: Request):
    """The topics a practice session can draw from, with how many questions each has."""
    return {"topics": await run_in_threadpool(services(request).tutor.topics)}


@router.post("/api/practice")
async def start_practice(req: PracticeStart, request: Request):
    """Start a practice session: its id and the first question (text, kind, where its answer is)."""
    return await run_in_threadpool(services(request).tutor.start, owner(request), req.topic, req.length, req.again)


@router.post("/api/practice/{session_id}/answer")
async def answer_practice(session_id: str, req: PracticeAnswer, request: Request):
    """Grade the answer to the current question: correct, partial or incorrect, the key points found and
    missing, the passage that justifies it (held back, `passage_held_back` saying why, while a question still to
    come in the session is drawn from it), and the next question (or the session's summary)."""
    return await run_in_threadpool(services(request).tutor.answer, owner(request), session_id, req.text, req.give_up)


@router.post("/api/practice/{session_id}/feedback")
async def feedback_practice(session_id: str, request: Request):
    """One sentence of feedback on the session's last answer, by the chat model, kept only when the passage
    supports it: {"text" (null when none), "note", "citations"}. Asked after the grade, which it never changes."""
    return await run_in_threadpool(services(request).tutor.feedback, owner(request), session_id)


@router.get("/api/practice/progress")
async def practice_progress(request: Request):
    """Your practice so far: per topic (its `label`, as the topic list names it), answers and right ones, each
    session's score; questions due again now (`due`) and later (`later`, the first at `next_due`)."""
    return await run_in_threadpool(services(request).tutor.progress, owner(request))


@router.get("/api/practice/class")
async def practice_class(request: Request, format: Literal["json", "csv"] = "json"):
    """The class (instructors): per topic and per question, trainees who tried and who got it right."""
    instructor(request, "the class view")
    tutor = services(request).tutor
    if format == "csv":
        return Response(await run_in_threadpool(tutor.class_csv), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="practice-class.csv"'})
    return await run_in_threadpool(tutor.class_view)
