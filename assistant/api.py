"""REST API (FastAPI), thin over the chain: POST /api/ask, GET /api/health, GET /api/glossary.

`AssistantError`s become JSON `{"error": message}` with the error's status code; request size and
question length are bounded. Leaves out: auth and feedback (not built yet).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MAX_BODY_BYTES = 256 * 1024


class AskRequest(BaseModel):
    question: str = Field(..., description="the question")
    history: list[tuple[str, str | None]] = Field(default_factory=list, description="earlier [user, assistant] turns")
    backend: Literal["local", "openai", "extractive"] | None = None


def build_api(assistant, glossary_entries) -> "FastAPI":  # noqa: F821
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from assistant.errors import AssistantError
    from assistant.ingest.glossary import search_glossary

    app = FastAPI(title="CIMIC doctrine assistant", version="0.1.0")

    @app.middleware("http")
    async def bound_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"the request body is {int(size):,} bytes; the limit is {MAX_BODY_BYTES:,}"}, 413)
        return await call_next(request)

    @app.exception_handler(AssistantError)
    async def assistant_error(_, exc: AssistantError):
        return JSONResponse({"error": exc.message}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", []) if x != "body")
        return JSONResponse({"error": f"invalid request: {where or 'body'}: {first.get('msg', 'malformed')}"}, 422)

    @app.post("/api/ask")
    async def ask(req: AskRequest):
        answer = await run_in_threadpool(assistant.ask, req.question, [list(t) for t in req.history])
        return answer.to_dict()

    @app.get("/api/health")
    async def health():
        try:
            assistant.retriever.refresh_if_changed()
            chunks = assistant.retriever.count()
            ok = chunks > 0
        except AssistantError as exc:
            return JSONResponse({"status": "unavailable", "index_loaded": False, "error": exc.message}, 503)
        return {"status": "ok" if ok else "empty", "index_loaded": ok, "chunks": chunks, "backend": assistant.backend}

    @app.get("/api/glossary")
    async def glossary(q: str = ""):
        hits = [e.as_dict() for e in search_glossary(glossary_entries, q)]
        return {"count": len(hits), "entries": hits}

    return app
