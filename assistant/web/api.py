"""The REST API (FastAPI), thin over the chain: `build_api(...)` assembles the routers of `routes/` (one per
area: ask, conversations, practice, documents, evals, feedback, health, glossary, the site's own pages) with
the middleware of `middleware.py`, and turns errors into answers.

Endpoints: POST /api/ask, POST /api/ask/stream (NDJSON: token events, then the answer), GET /api/health,
GET /api/glossary, POST /api/feedback, GET /api/feedback (instructors), POST/GET /api/evals and
GET /api/evals/{id}[/report | /compare/{earlier}] (instructors: `evaluation/runs.py`), the documents
(instructors: `ingest/library.py`): POST/GET /api/documents, GET/PATCH/DELETE /api/documents/{doc_id},
GET /api/index/status; a user's own conversations (`web/chat_service.py`): GET /api/conversations,
GET/PATCH/DELETE /api/conversations/{id}, and `conversation_id` on /api/ask; practice (`practice/tutor.py`):
POST /api/practice, POST /api/practice/{session_id}/answer, POST /api/practice/{session_id}/feedback,
GET /api/practice/topics, GET /api/practice/progress (one's own) and GET /api/practice/class
(instructors; `?format=csv`). Without a login, a caller names its conversations with an `X-CIMIC-Client`
id (the page keeps one in the browser). `AssistantError`s become JSON `{"error": message}` with the
error's status code, unknown /api/ paths and wrong methods included; request size (chunked bodies
included) and question length are bounded; /docs is an offline page.
"""

from __future__ import annotations


def build_api(assistant, glossary_entries, settings, feedback, auth=None, evals=None, library=None,
              conversations=None, tutor=None, chat=None) -> "FastAPI":  # noqa: F821
    """The FastAPI app with every router and the middleware; `chat` (a `ChatService`) is shared with the page
    when given, else made here over `assistant` and `conversations`."""
    from fastapi import FastAPI

    from assistant.web import middleware
    from assistant.web.auth import Auth
    from assistant.web.chat_service import ChatService
    from assistant.web.routes import ask, conversations as conversation_routes, documents, evals as eval_routes
    from assistant.web.routes import feedback as feedback_routes, glossary, health, practice, site
    from assistant.web.services import Services

    auth = auth or Auth.from_settings(settings)
    # /docs is a plain page built from /openapi.json (routes/site.py): Swagger UI and ReDoc need a CDN
    app = FastAPI(title="CIMIC doctrine assistant", version="0.2.0", docs_url=None, redoc_url=None)
    app.state.services = Services(assistant=assistant, glossary=glossary_entries, settings=settings, feedback=feedback,
                                  auth=auth, chat=chat or ChatService(assistant, conversations), evals=evals,
                                  library=library, tutor=tutor)
    middleware.install(app, settings, auth)
    _error_answers(app)
    areas = (ask, conversation_routes, practice, documents, health, glossary, feedback_routes, eval_routes, site)
    for area in areas:
        app.include_router(area.router)
    app.state.api_routes = [r for area in areas for r in area.router.routes]  # what the fallback names on a wrong method
    app.include_router(site.fallback)  # last: whatever no route above takes
    return app


def _error_answers(app) -> None:
    """Every error as `{"error": message}`: the project's own errors with their status, Starlette's (404, 405,
    a body that is not JSON), request validation (422, naming the field) and any other failure (500)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from assistant.errors import AssistantError

    @app.exception_handler(AssistantError)
    async def assistant_error(_, exc: AssistantError):
        return JSONResponse({"error": exc.message}, exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        detail = str(exc.detail)
        if exc.status_code == 400:
            detail = f"invalid request: the body could not be read as JSON in UTF-8 ({detail})"
        return JSONResponse({"error": detail}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(_, exc: Exception):  # a bug: still an {"error"} answer (the log has the traceback)
        return JSONResponse({"error": f"internal error ({exc.__class__.__name__}): the server could not answer this "
                                      "request; its log has the details"}, 500)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", []) if x != "body")
        return JSONResponse({"error": f"invalid request: {where or 'body'}: {first.get('msg', 'malformed')}"}, 422)
