"""POST /api/ask and POST /api/ask/stream: a question (with its history, or the saved conversation's) answered
by the chain, the turn saved for its owner (`ChatService`). Leaves out: answering (`answering/`)."""

from __future__ import annotations

import json
import logging
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import Field

from assistant.errors import AssistantError
from assistant.web.routes.common import Checked, checked_params, owner, services

log = logging.getLogger("cimic")
router = APIRouter(dependencies=[Depends(checked_params)])


class AskRequest(Checked):
    question: str = Field(..., description="the question")
    history: list[tuple[str, str | None]] = Field(default_factory=list, description="earlier [user, assistant] turns")
    backend: Literal["local", "openai", "extractive"] | None = Field(None, description="override CIMIC_LLM_BACKEND")
    conversation_id: str | None = Field(None, max_length=64, description="continue this saved conversation (its turns are the history)")


def _with_id(answer: dict, conversation_id: str | None) -> dict:
    return answer if conversation_id is None else {**answer, "conversation_id": conversation_id}


@router.post("/api/ask")
async def ask(req: AskRequest, request: Request):
    """Answer a question; JSON out is the Answer contract (README, "Answer"), with the `conversation_id` it was
    saved under (for a signed-in user or an X-CIMIC-Client id)."""
    who = owner(request, needed=bool(req.conversation_id))
    answer, conversation_id = await run_in_threadpool(services(request).chat.ask, req.question, req.history, who,
                                                      req.conversation_id, req.backend)
    return _with_id(answer, conversation_id)


@router.post("/api/ask/stream")
async def ask_stream(req: AskRequest, request: Request):
    """The same, streamed as NDJSON lines: {"type": "token", "text"} while the draft is written, then
    {"type": "answer", "answer": {...}}, or {"type": "error", "error": message}: a stream that has begun always
    ends with one of the two."""
    who = owner(request, needed=bool(req.conversation_id))
    events = services(request).chat.stream(req.question, req.history, who, req.conversation_id, req.backend)
    first = await run_in_threadpool(next, events, None)  # bad input fails here, as a 4xx, before streaming

    def lines():
        try:
            for event in _chain(first, events):
                if event["type"] == "answer":
                    event = {"type": "answer", "answer": _with_id(event["answer"], event["conversation_id"])}
                yield json.dumps(event) + "\n"
        except AssistantError as exc:
            yield json.dumps({"type": "error", "error": exc.message}) + "\n"
        except Exception as exc:  # noqa: BLE001 - whatever fails mid-stream, the stream still ends with a line that says so
            log.error("the answer stream to %r failed", req.question[:80], exc_info=True)
            yield json.dumps({"type": "error", "error": f"the answer could not be finished: an internal error "
                                                        f"({exc.__class__.__name__}); ask again"}) + "\n"

    return StreamingResponse(iterate_in_threadpool(lines()), media_type="application/x-ndjson")


def _chain(first, rest):
    if first:
        yield first
    yield from rest
