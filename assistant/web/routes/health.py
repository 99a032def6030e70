"""GET /api/health: index loaded, chunk count, back-end and whether it answers (503 with the reason when
the vector store cannot be reached). Open to probes without a login (`middleware.OPEN_PATHS`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from assistant.errors import AssistantError
from assistant.web.routes.common import checked_params, services

router = APIRouter(dependencies=[Depends(checked_params)])


@router.get("/api/health")
async def health(request: Request):
    assistant = services(request).assistant
    try:
        await run_in_threadpool(assistant.retriever.refresh_if_changed)
        chunks = await run_in_threadpool(assistant.retriever.ping)
    except AssistantError as exc:
        return JSONResponse({"status": "unavailable", "index_loaded": False, "error": exc.message,
                             "backend": assistant.backend}, 503)
    reachable, why = await run_in_threadpool(assistant.backend_reachable)
    body = {"status": "ok" if chunks and reachable else ("empty" if not chunks else "degraded"),
            "index_loaded": bool(chunks), "chunks": chunks, "backend": assistant.backend,
            "backend_reachable": reachable}
    if why:
        body["backend_error"] = why
    return body
