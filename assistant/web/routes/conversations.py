"""A user's own saved conversations: GET /api/conversations, GET|PATCH|DELETE /api/conversations/{id}
(`?format=markdown` exports one). Another owner's conversation is "not found" (`ChatService`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import Field

from assistant.web.routes.common import Checked, checked_params, owner, services

router = APIRouter(dependencies=[Depends(checked_params)])


class Rename(Checked):
    title: str = Field(..., max_length=200)


@router.get("/api/conversations")
async def list_conversations(request: Request):
    """Your saved conversations, most recent first (id, title, dates, number of turns)."""
    rows = await run_in_threadpool(services(request).chat.list, owner(request, needed=False))
    return {"count": len(rows), "conversations": rows}


@router.get("/api/conversations/{conversation_id}")
async def get_conversation(conversation_id: str, request: Request, format: Literal["json", "markdown"] = "json"):
    """One of your conversations with every turn (question, answer, citations); `?format=markdown` exports it."""
    chat, who = services(request).chat, owner(request)
    if format == "markdown":
        text = await run_in_threadpool(chat.markdown, who, conversation_id)
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
    return await run_in_threadpool(chat.get, who, conversation_id)


@router.patch("/api/conversations/{conversation_id}")
async def rename_conversation(conversation_id: str, req: Rename, request: Request):
    """Rename one of your conversations."""
    await run_in_threadpool(services(request).chat.rename, owner(request), conversation_id, req.title)
    return {"status": "renamed"}


@router.delete("/api/conversations/{conversation_id}")
async def delete_conversation(conversation_id: str, request: Request):
    """Delete one of your conversations."""
    await run_in_threadpool(services(request).chat.delete, owner(request), conversation_id)
    return {"status": "deleted"}
