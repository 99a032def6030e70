"""REST API (FastAPI), thin over the chain, and the HTTP rules the whole server (page included) follows.

Endpoints: POST /api/ask, POST /api/ask/stream (NDJSON: token events, then the answer), GET /api/health,
GET /api/glossary, POST /api/feedback, GET /api/feedback (instructors), POST/GET /api/evals and
GET /api/evals/{id}[/report | /compare/{earlier}] (instructors: `evaluation/runs.py`), the documents
(instructors: `ingest/library.py`): POST/GET /api/documents, GET/PATCH/DELETE /api/documents/{doc_id},
GET /api/index/status; a user's own conversations (`userdata/conversations.py`): GET /api/conversations,
GET/PATCH/DELETE /api/conversations/{id}, and `conversation_id` on /api/ask; practice (`practice/tutor.py`):
POST /api/practice, POST /api/practice/{session_id}/answer, POST /api/practice/{session_id}/feedback,
GET /api/practice/topics, GET /api/practice/progress (one's own) and GET /api/practice/class
(instructors; `?format=csv`). Without a login, a caller
names its conversations with an `X-CIMIC-Client` id (the page keeps one in the browser). `AssistantError`s become JSON
`{"error": message}` with the error's status code, unknown /api/ paths and wrong methods included;
request size (chunked bodies included) and question length are bounded; /docs is an offline page.
Middleware, for page and API alike: the optional login (`auth.py`), CORS for CIMIC_ALLOWED_ORIGINS,
a Content-Security-Policy whose frame-ancestors allow only those origins to embed the page, and a
refusal of state-changing requests sent by pages of other origins (a form posted cross-site carries
the browser's saved login; JSON requests are stopped by CORS preflights, forms are not).
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import urlsplit

from fastapi import Request, UploadFile  # at module level: FastAPI resolves the string annotations of the handlers here
from pydantic import BaseModel, Field

MAX_BODY_BYTES = 256 * 1024
OPEN_PATHS = ("/api/health",)  # probes from a load balancer need no login
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")  # where an instructor's file may be larger than MAX_BODY_BYTES
CLIENT_HEADER = "x-cimic-client"


class AskRequest(BaseModel):
    question: str = Field(..., description="the question")
    history: list[tuple[str, str | None]] = Field(default_factory=list, description="earlier [user, assistant] turns")
    backend: Literal["local", "openai", "extractive"] | None = Field(None, description="override CIMIC_LLM_BACKEND")
    conversation_id: str | None = Field(None, max_length=64, description="continue this saved conversation (its turns are the history)")


class DocumentPatch(BaseModel):
    model_config = {"extra": "forbid"}
    title: str | None = Field(None, max_length=300)
    author: str | None = Field(None, max_length=300)
    publisher: str | None = Field(None, max_length=300)
    date: str | None = Field(None, max_length=300)
    kind: str | None = Field(None, max_length=300)


class PracticeStart(BaseModel):
    topic: str | None = Field(None, max_length=200, description="a topic key (GET /api/practice/topics); default everything")
    length: int | None = Field(None, description="questions in the session, 1 to 20 (default 5)")
    again: list[str] | None = Field(None, max_length=20, description="question ids to practise again (from a summary)")


class PracticeAnswer(BaseModel):
    text: str = Field("", description="the trainee's answer (at most 4,000 characters)")
    give_up: bool = Field(False, description="show the answer: the question is graded incorrect")


class Rename(BaseModel):
    title: str = Field(..., max_length=200)


class EvalRequest(BaseModel):
    datasets: list[str] | None = Field(None, max_length=20, description="dataset names (GET /api/evals lists them); default gold")
    backend: str = Field(..., max_length=32, description="the server's own back-end or extractive")
    sample: int | None = Field(None, description="a deterministic subset of about this many cases per dataset")


class FeedbackRequest(BaseModel):
    rating: Literal["up", "down"]
    question: str = Field(..., max_length=20_000)
    answer: str = Field(..., max_length=20_000)
    citations: list[dict] = Field(default_factory=list, max_length=50)
    comment: str = Field("", description="optional, at most 2,000 characters")
    backend: str = Field("", max_length=64)
    grounding: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)


class BodyLimit:
    """ASGI middleware: a request body over its limit is refused with 413, whether it says its length
    (Content-Length) or not (chunked): the body is read, up to the limit, before the app sees it. The
    limit is `limit`, or what `limit_for(path, headers)` says (an instructor's upload may be larger)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, limit_for=None):
        self.app = app
        self.limit = limit
        self.limit_for = limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        limit = (self.limit_for(scope["path"], headers) if self.limit_for else None) or self.limit
        size = headers.get(b"content-length", b"").decode("latin-1")
        if size.isdigit() and int(size) > limit:
            return await _too_large(send, int(size), limit)
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            more = message.get("more_body", False)
            if total > limit:
                return await _too_large(send, None, limit)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


class GradioErrors:
    """ASGI middleware for Gradio's own routes (/gradio_api/...): a malformed call (an unknown session, an
    event that does not exist) makes Gradio raise, which would log full tracebacks for anyone's bad
    request. The caller gets a 400 `{"error"}` (or, once a stream has begun, the stream ends), and the
    log one line."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or "/gradio_api/" not in scope.get("path", ""):
            return await self.app(scope, receive, send)
        started, held = False, []  # a 500 (Gradio's own error page) is held until we know an exception follows

        async def tracking(message):
            nonlocal started
            if held or (message["type"] == "http.response.start" and message.get("status") == 500):
                held.append(message)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:  # noqa: BLE001 - any failure of Gradio on a caller's malformed request
            import logging

            logging.getLogger("cimic").warning("refused a malformed Gradio call %s: %s: %s", scope["path"],
                                               exc.__class__.__name__, str(exc)[:200])
            if not started:
                await _json_error(send, 400, f"malformed call to the page's internal API ({exc.__class__.__name__})")
            return
        for message in held:
            await send(message)


async def _json_error(send, status: int, message: str):
    """An `{"error"}` answer sent over raw ASGI, for the middlewares that answer before the app does."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send, size, limit):
    said = f"is {size:,} bytes" if size is not None else "is larger than that"
    await _json_error(send, 413, f"the request body {said}; the limit is {limit:,} bytes")


def origins(settings) -> list[str]:
    return [o.strip().rstrip("/") for o in (settings.allowed_origins or "").split(",") if o.strip()]


def build_api(assistant, glossary_entries, settings, feedback, auth=None, evals=None, library=None,
              conversations=None, tutor=None) -> "FastAPI":  # noqa: F821
    from fastapi import FastAPI, File, Form
    from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from assistant.web.auth import Auth
    from assistant.userdata.conversations import owner_of
    from assistant.errors import AssistantError, InvalidQuestion, NotAuthenticated
    from assistant.userdata.feedback import Feedback
    from assistant.ingest.glossary import search_glossary

    auth = auth or Auth.from_settings(settings)
    allowed = origins(settings)
    # the API reference is served from the package's own schema: Swagger UI and ReDoc load from a CDN,
    # which an offline intranet cannot reach, so /docs is a plain page built from /openapi.json
    app = FastAPI(title="CIMIC doctrine assistant", version="0.2.0", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        origin = (request.headers.get("origin") or "").rstrip("/")
        own = {request.headers.get("host"), request.headers.get("x-forwarded-host")}  # behind a proxy: the public host
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin and origin not in allowed \
                and urlsplit(origin).netloc not in own:
            # a page of another site may send a form (an upload, say) with the browser's saved login: refused,
            # and so is "null", the origin of a sandboxed frame, which carries that login as well
            return JSONResponse({"error": f"a request from a page of {origin} is refused: it is not one of the allowed "
                                          "origins (CIMIC_ALLOWED_ORIGINS)"}, 403)
        if request.method != "OPTIONS" and request.url.path not in OPEN_PATHS:
            try:
                request.state.user = auth.require(request.headers)
            except NotAuthenticated as exc:
                return JSONResponse({"error": exc.message}, exc.status,
                                    headers={"WWW-Authenticate": 'Basic realm="CIMIC doctrine assistant", charset="UTF-8"'})
            if request.url.path.endswith("/gradio_api/upload") and not request.state.user.instructor:
                # the page's only file input is the instructors' Documents tab
                return JSONResponse({"error": "only an instructor may upload files (the Documents tab)"}, 403)
        response = await call_next(request)
        if origin and origin not in allowed:
            # Gradio's own CORS answers any localhost origin with credentials; only the allowed ones may read
            for header in ("access-control-allow-origin", "access-control-allow-credentials"):
                if header in response.headers:
                    del response.headers[header]
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

    def pick_backend(name: str | None):
        """A request may ask for the server's own back-end or the extractive one, nothing heavier: loading
        a model is the administrator's decision, not a caller's."""
        if name and name not in (assistant.backend, "extractive"):
            raise InvalidQuestion(f"this server answers with the {assistant.backend} back-end; a request may ask "
                                  f"for it or for extractive, not {name!r}")
        return assistant.for_backend(name)

    def instructor(request: Request, what: str = "an evaluation"):
        auth.allow(request.state.user, instructor=True, what=what)  # the guard identified the user already

    def owner(request: Request, needed: bool = True) -> str | None:
        found = owner_of(request.state.user.name, request.headers.get(CLIENT_HEADER))
        if found is None and needed:
            raise InvalidQuestion("conversations are kept per user: sign in, or send an X-CIMIC-Client header "
                                  "(8 to 64 letters, digits, - or _) that names this browser or client")
        return found

    def conversation_of(req: AskRequest, request: Request) -> tuple[str | None, list]:
        """Who the turn is saved for, and the history: the request's own, or the saved conversation's."""
        who = owner(request, needed=bool(req.conversation_id))
        history = [list(t) for t in req.history]
        if req.conversation_id and not history:
            history = conversations.history(who, req.conversation_id)
        return who, history

    def saved(who: str | None, req: AskRequest, answer: dict) -> dict:
        if who is None or conversations is None:
            return answer
        return {**answer, "conversation_id": conversations.add_turn(who, req.conversation_id, req.question, answer)}

    @app.post("/api/ask")
    async def ask(req: AskRequest, request: Request):
        """Answer a question; JSON out is the Answer contract (README, "Answer"), with the `conversation_id` it was
        saved under (for a signed-in user or an X-CIMIC-Client id)."""
        chosen = await run_in_threadpool(pick_backend, req.backend)
        who, history = await run_in_threadpool(conversation_of, req, request)
        answer = await run_in_threadpool(chosen.ask, req.question, history)
        return await run_in_threadpool(saved, who, req, answer.to_dict())

    @app.post("/api/ask/stream")
    async def ask_stream(req: AskRequest, request: Request):
        """The same, streamed as NDJSON lines: {"type": "token", "text"} while the draft is written, then
        {"type": "answer", "answer": {...}}, or {"type": "error", "error": message}."""
        chosen = await run_in_threadpool(pick_backend, req.backend)
        who, history = await run_in_threadpool(conversation_of, req, request)
        events = chosen.ask_stream(req.question, history)
        first = await run_in_threadpool(next, events, None)  # bad input fails here, as a 4xx, before streaming

        def lines():
            try:
                for event in _chain(first, events):
                    if event["type"] == "answer":
                        event = {"type": "answer", "answer": saved(who, req, event["answer"].to_dict())}
                    yield json.dumps(event) + "\n"
            except AssistantError as exc:
                yield json.dumps({"type": "error", "error": exc.message}) + "\n"

        return StreamingResponse(iterate_in_threadpool(lines()), media_type="application/x-ndjson")

    @app.get("/api/conversations")
    async def list_conversations(request: Request):
        """Your saved conversations, most recent first (id, title, dates, number of turns)."""
        who = owner(request, needed=False)
        rows = await run_in_threadpool(conversations.list, who) if who else []
        return {"count": len(rows), "conversations": rows}

    @app.get("/api/conversations/{conversation_id}")
    async def get_conversation(conversation_id: str, request: Request, format: Literal["json", "markdown"] = "json"):
        """One of your conversations with every turn (question, answer, citations); `?format=markdown` exports it."""
        from fastapi.responses import PlainTextResponse

        from assistant.userdata.conversations import markdown

        conv = await run_in_threadpool(conversations.get, owner(request), conversation_id)
        return PlainTextResponse(markdown(conv), media_type="text/markdown; charset=utf-8") if format == "markdown" else conv

    @app.patch("/api/conversations/{conversation_id}")
    async def rename_conversation(conversation_id: str, req: Rename, request: Request):
        """Rename one of your conversations."""
        await run_in_threadpool(conversations.rename, owner(request), conversation_id, req.title)
        return {"status": "renamed"}

    @app.delete("/api/conversations/{conversation_id}")
    async def delete_conversation(conversation_id: str, request: Request):
        """Delete one of your conversations."""
        await run_in_threadpool(conversations.delete, owner(request), conversation_id)
        return {"status": "deleted"}

    @app.get("/api/practice/topics")
    async def practice_topics():
        """The topics a practice session can draw from, with how many questions each has."""
        return {"topics": await run_in_threadpool(tutor.topics)}

    @app.post("/api/practice")
    async def start_practice(req: PracticeStart, request: Request):
        """Start a practice session: its id and the first question (text, kind, where its answer is)."""
        return await run_in_threadpool(tutor.start, owner(request), req.topic, req.length, req.again)

    @app.post("/api/practice/{session_id}/answer")
    async def answer_practice(session_id: str, req: PracticeAnswer, request: Request):
        """Grade the answer to the current question: correct, partial or incorrect, the key points found and
        missing, the passage that justifies it, and the next question (or the session's summary)."""
        return await run_in_threadpool(tutor.answer, owner(request), session_id, req.text, req.give_up)

    @app.post("/api/practice/{session_id}/feedback")
    async def feedback_practice(session_id: str, request: Request):
        """One sentence of feedback on the session's last answer, by the chat model, kept only when the passage
        supports it: {"text" (null when none), "note", "citations"}. Asked after the grade, which it never changes."""
        return await run_in_threadpool(tutor.feedback, owner(request), session_id)

    @app.get("/api/practice/progress")
    async def practice_progress(request: Request):
        """Your practice so far: per topic, answers and right ones, each session's score; questions due again."""
        return await run_in_threadpool(tutor.progress, owner(request))

    @app.get("/api/practice/class")
    async def practice_class(request: Request, format: Literal["json", "csv"] = "json"):
        """The class (instructors): per topic and per question, trainees who tried and who got it right."""
        from fastapi.responses import Response

        instructor(request, "the class view")
        if format == "csv":
            return Response(await run_in_threadpool(tutor.class_csv), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="practice-class.csv"'})
        return await run_in_threadpool(tutor.class_view)

    what_docs = "managing documents"

    @app.post("/api/documents", status_code=202)
    async def upload_document(request: Request, file: UploadFile = File(...), title: str = Form(""), author: str = Form(""),
                              publisher: str = Form(""), date: str = Form(""), kind: str = Form(""),
                              replace: bool = Form(False)):
        """Upload a document (instructors): checked at once (4xx with the reason, nothing written), then
        indexed in the background; `GET /api/index/status` follows the job."""
        instructor(request, what_docs)
        data = await file.read()
        fields = {k: v for k, v in dict(title=title, author=author, publisher=publisher, date=date, kind=kind).items() if v}
        return await run_in_threadpool(library.upload, file.filename or "", data, fields, replace, request.state.user.name)

    @app.get("/api/documents")
    async def list_documents(request: Request):
        """What is indexed: each document's title, kind, pages, chunks and when it was indexed, and the files skipped."""
        instructor(request, what_docs)
        return await run_in_threadpool(library.documents)

    @app.get("/api/documents/{doc_id}")
    async def get_document(doc_id: str, request: Request):
        """One document and its chunks as the assistant sees them (section, page, text)."""
        instructor(request, what_docs)
        return await run_in_threadpool(library.document, doc_id)

    @app.patch("/api/documents/{doc_id}", status_code=202)
    async def edit_document(doc_id: str, req: DocumentPatch, request: Request):
        """Change a document's title, author, publisher, date or kind (re-indexed in the background)."""
        instructor(request, what_docs)
        return await run_in_threadpool(library.edit, doc_id, req.model_dump(exclude_unset=True), request.state.user.name)

    @app.delete("/api/documents/{doc_id}", status_code=202)
    async def delete_document(doc_id: str, request: Request):
        """Remove a document from the index; its file is moved to knowledge/.trash/."""
        instructor(request, what_docs)
        return await run_in_threadpool(library.delete, doc_id, request.state.user.name)

    @app.get("/api/index/status")
    async def index_status(request: Request):
        """idle, or indexing with the running job's progress; queued and recent document jobs."""
        instructor(request, what_docs)
        return library.status()

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
        instructor(request, "the review")
        rows = await run_in_threadpool(feedback.list, rating, max(1, min(limit, 1000)))
        return {"count": len(rows), "feedback": rows}

    @app.post("/api/evals", status_code=202)
    async def start_eval(req: EvalRequest, request: Request):
        """Start an evaluation in the background (instructors only; one at a time, 409 while one runs)."""
        instructor(request)
        run_id = await run_in_threadpool(evals.start, req.datasets, req.backend, req.sample, request.state.user.name)
        return {"id": run_id}

    @app.get("/api/evals")
    async def list_evals(request: Request):
        """Past and running evaluations, newest first, with their headline figures (instructors only)."""
        instructor(request)
        runs = await run_in_threadpool(evals.list)
        return {"running": evals.running(), "datasets": list(evals.datasets()), "backends": evals.backends(), "runs": runs}

    @app.get("/api/evals/{run_id}")
    async def get_eval(run_id: str, request: Request):
        """One evaluation: its status, and when done its summary, splits and judge figures (instructors only)."""
        instructor(request)
        run = await run_in_threadpool(evals.get, run_id)
        if run["status"] == "done":
            report = await run_in_threadpool(evals.report, run_id)
            run = {**run, **{k: report.get(k) for k in ("summary", "splits", "by_dataset", "judge", "gates")}}
        return run

    @app.get("/api/evals/{run_id}/report", include_in_schema=False)
    async def eval_report(run_id: str, request: Request):
        from fastapi.responses import HTMLResponse

        instructor(request)
        return HTMLResponse(await run_in_threadpool(evals.report_html, run_id))

    @app.get("/api/evals/{run_id}/compare/{earlier_id}")
    async def compare_evals(run_id: str, earlier_id: str, request: Request):
        """Metric deltas against an earlier run and the cases that changed between pass and fail."""
        instructor(request)
        return await run_in_threadpool(evals.compare, run_id, earlier_id)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        """The endpoints, from the OpenAPI schema, as a plain page that needs no network."""
        from html import escape

        from fastapi.responses import HTMLResponse

        rows = []
        for path, ops in app.openapi()["paths"].items():
            for method, op in ops.items():
                rows.append(f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                            f"<td>{escape(op.get('description') or op.get('summary') or '')}</td></tr>")
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>CIMIC assistant API</title>"
                            "<h1>CIMIC doctrine assistant: REST API</h1><p>Machine-readable schema: "
                            "<a href=/openapi.json>/openapi.json</a></p><table>" + "".join(rows) + "</table>")

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        """FastAPI's other documentation address: the same offline page."""
        from fastapi.responses import RedirectResponse

        return RedirectResponse("/docs", 307)

    @app.get("/embed", include_in_schema=False)
    async def embed_without_slash(request: Request):
        from fastapi.responses import RedirectResponse

        return RedirectResponse(f"/embed/{'?' + request.url.query if request.url.query else ''}", 307)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def no_such_endpoint(rest: str, request: Request):
        """Anything under /api/ that no route above takes: an {"error"} body like every other API answer."""
        known = {r.path for r in app.routes if getattr(r, "path", "").startswith("/api/") and "{" not in r.path}
        path = request.url.path
        if path in known:
            allowed = sorted({m for r in app.routes if getattr(r, "path", "") == path for m in getattr(r, "methods", ())})
            return JSONResponse({"error": f"{path} takes {', '.join(allowed)}, not {request.method}"}, 405,
                                headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"error": f"no API endpoint {path}"}, 404)

    file_limit = int(settings.max_file_mb * 2**20) + 64 * 1024

    def limit_for(path: str, headers: dict) -> int | None:
        """An instructor's upload may be as large as a knowledge file; everything else keeps the small limit."""
        if not path.endswith(UPLOAD_PATHS):
            return None
        user = auth.identify({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers.items()})
        return file_limit if user and user.instructor else None

    app.add_middleware(GradioErrors)
    app.add_middleware(BodyLimit, limit_for=limit_for)
    return app


def _chain(first, rest):
    if first:
        yield first
    yield from rest
