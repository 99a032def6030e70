"""Thumbs on answers (`userdata/feedback.py`): POST /api/feedback (anyone), GET /api/feedback (instructors)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from assistant.userdata.feedback import Feedback
from assistant.web.routes.common import Checked, checked_params, instructor, services, user_name

router = APIRouter(dependencies=[Depends(checked_params)])


class FeedbackRequest(Checked):
    rating: Literal["up", "down"]
    question: str = Field(..., max_length=20_000)
    answer: str = Field(..., max_length=20_000)
    citations: list[dict] = Field(default_factory=list, max_length=50)
    comment: str = Field("", description="optional, at most 2,000 characters")
    backend: str = Field("", max_length=64)
    grounding: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)


@router.post("/api/feedback")
async def give_feedback(req: FeedbackRequest, request: Request):
    """Thumbs up or down on an answer, with an optional comment."""
    entry = Feedback(**req.model_dump(), user=user_name(request))
    return {"status": await run_in_threadpool(services(request).feedback.add, entry)}


@router.get("/api/feedback")
async def list_feedback(request: Request, rating: Literal["up", "down"] | None = None, limit: int = 100):
    """Stored feedback, newest first (instructors only)."""
    instructor(request, "the review")
    rows = await run_in_threadpool(services(request).feedback.list, rating, max(1, min(limit, 1000)))
    return {"count": len(rows), "feedback": rows}
