"""REST API (FastAPI), thin over the chain, and the HTTP rules the whole server (page included) follows.

Endpoints: POST /api/ask, POST /api/ask/stream (NDJSON: token events, then the answer), GET /api/health,
GET /api/glossary, POST /api/feedback, GET /api/feedback (instructors). `AssistantError`s become JSON
`{"error": message}` with the error's status code; request size and question length are bounded.
Middleware, for page and API alike: the optional login (`auth.py`), CORS for CIMIC_ALLOWED_ORIGINS,
and a Content-Security-Policy whose frame-ancestors allow only those origins to embed the page.
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import Request  # at module level: FastAPI resolves the string annotations of the handlers here
from pydantic import BaseModel, Field

MAX_BODY_BYTES = 256 * 1024
OPEN_PATHS = ("/api/health",)  # probes from a load balancer need no login


class AskRequest(BaseModel):
    question: str = Field(..., description="the question")
    history: list[tuple[str, str | None]] = Field(default_factory=list, description="earlier [user, assistant] turns")
    backend: Literal["local", "openai", "extractive"] | None = Field(None, description="override CIMIC_LLM_BACKEND")


class FeedbackRequest(BaseModel):
    rating: Literal["up", "down"]
    question: str = Field(..., max_length=20_000)
    answer: str = Field(..., max_length=20_000)
    citations: list[dict] = Field(default_factory=list, max_length=50)
    comment: str = Field("", description="optional, at most 2,000 characters")
    backend: str = Field("", max_length=64)
    grounding: float | None = None


def origins(settings) -> list[str]:
    return [o.strip().rstrip("/") for o in (settings.allowed_origins or "").split(",") if o.strip()]


def build_api(assistant, glossary_entries, settings, feedback, auth=None) -> "FastAPI":  # noqa: F821
    from fastapi import FastAPI
    from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from assistant.auth import Auth
    from assistant.errors import AssistantError, NotAuthenticated
    from assistant.feedback import Feedback
    from assistant.ingest.glossary import search_glossary

    auth = auth or Auth.from_settings(settings)
    allowed = origins(settings)
    app = FastAPI(title="CIMIC doctrine assistant", version="0.2.0")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"the request body is {int(size):,} bytes; the limit is {MAX_BODY_BYTES:,}"}, 413)
        if request.method != "OPTIONS" and request.url.path not in OPEN_PATHS:
            try:
                request.state.user = auth.require(request.headers)
            except NotAuthenticated as exc:
                return JSONResponse({"error": exc.message}, exc.status,
                                    headers={"WWW-Authenticate": 'Basic realm="CIMIC doctrine assistant", charset="UTF-8"'})
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = "frame-ancestors " + " ".join(["'self'", *allowed])
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    if allowed:  # added after the guard, so it runs first and answers CORS preflights itself
        app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_credentials=True,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(AssistantError)
    async def assistant_error(_, exc: AssistantError):
        return JSONResponse({"error": exc.message}, exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        detail = str(exc.detail)
        if exc.status_code == 400:
            detail = f"invalid request: the body could not be read as JSON in UTF-8 ({detail})"
        return JSONResponse({"error": detail}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", []) if x != "body")
        return JSONResponse({"error": f"invalid request: {where or 'body'}: {first.get('msg', 'malformed')}"}, 422)

    @app.post("/api/ask")
    async def ask(req: AskRequest):
        """Answer a question; JSON out is the Answer contract (DESIGN.md)."""
        chosen = await run_in_threadpool(assistant.for_backend, req.backend)
        answer = await run_in_threadpool(chosen.ask, req.question, [list(t) for t in req.history])
        return answer.to_dict()

    @app.post("/api/ask/stream")
    async def ask_stream(req: AskRequest):
        """The same, streamed as NDJSON lines: {"type": "token", "text"} while the draft is written, then
        {"type": "answer", "answer": {...}}, or {"type": "error", "error": message}."""
        chosen = await run_in_threadpool(assistant.for_backend, req.backend)
        events = chosen.ask_stream(req.question, [list(t) for t in req.history])
        first = await run_in_threadpool(next, events, None)  # bad input fails here, as a 4xx, before streaming

        def lines():
            try:
                if first:
                    yield _line(first)
                for event in events:
                    yield _line(event)
            except AssistantError as exc:
                yield json.dumps({"type": "error", "error": exc.message}) + "\n"

        return StreamingResponse(iterate_in_threadpool(lines()), media_type="application/x-ndjson")

    @app.get("/api/health")
    async def health():
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

    @app.get("/api/glossary")
    async def glossary(q: str = ""):
        hits = [e.as_dict() for e in search_glossary(glossary_entries, q[:200])]
        return {"count": len(hits), "entries": hits}

    @app.post("/api/feedback")
    async def give_feedback(req: FeedbackRequest, request: Request):
        """Thumbs up or down on an answer, with an optional comment."""
        entry = Feedback(**req.model_dump(), user=request.state.user.name)
        outcome = await run_in_threadpool(feedback.add, entry)
        return {"status": outcome}

    @app.get("/api/feedback")
    async def list_feedback(request: Request, rating: Literal["up", "down"] | None = None, limit: int = 100):
        """Stored feedback, newest first (instructors only)."""
        auth.allow(request.state.user, instructor=True)  # the guard identified the user already
        rows = await run_in_threadpool(feedback.list, rating, max(1, min(limit, 1000)))
        return {"count": len(rows), "feedback": rows}

    return app


def _line(event: dict) -> str:
    if event["type"] == "answer":
        return json.dumps({"type": "answer", "answer": event["answer"].to_dict()}) + "\n"
    return json.dumps(event) + "\n"
