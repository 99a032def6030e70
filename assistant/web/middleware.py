"""The HTTP rules the whole server follows, page and API alike, as middleware: `install(app, settings, auth)`.

From the outside in: the allowed hosts (`AllowedHosts`: a request naming another Host gets 400, against DNS
rebinding; CIMIC_ALLOWED_HOSTS, and by default on an anonymous server bound beyond localhost, localhost names
only), the body limit (`BodyLimit`: 413 over 256 KiB, chunked bodies included; an instructor's upload may
be as large as a knowledge file), Gradio's malformed calls answered with a short 400 (`GradioErrors`), CORS
for CIMIC_ALLOWED_ORIGINS, and the guard: a refusal of state-changing requests sent by pages of other
origins (a form posted cross-site carries the browser's saved login; JSON requests are stopped by CORS
preflights, forms are not), the optional login (`auth.py`, throttled per user name and client address: 429
with Retry-After), and a Content-Security-Policy whose frame-ancestors allow only the allowed origins to
embed the page. Leaves out: the routes (`routes/`).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

MAX_BODY_BYTES = 256 * 1024
OPEN_PATHS = ("/api/health",)  # probes from a load balancer need no login
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")  # where an instructor's file may be larger than MAX_BODY_BYTES
LOGIN_CHALLENGE = {"WWW-Authenticate": 'Basic realm="CIMIC doctrine assistant", charset="UTF-8"'}
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def origins(settings) -> list[str]:
    return [o.strip().rstrip("/") for o in (settings.allowed_origins or "").split(",") if o.strip()]


def host_name(value: str) -> str:
    """The name in a Host header or a CIMIC_ALLOWED_HOSTS entry: lower case, without the port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def local(bind: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    return bind.strip().lower() in LOCAL_NAMES or bind.startswith("127.")


def allowed_hosts(settings, anonymous: bool) -> list[str] | None:
    """The host names the server answers to; None for any. CIMIC_ALLOWED_HOSTS when set ("*": any); else,
    for an anonymous server bound beyond localhost (nothing else stands between a rebound DNS name and it),
    the localhost names; else any (a login, or a server only this machine reaches)."""
    listed = [host_name(h) for h in (settings.allowed_hosts or "").split(",") if h.strip()]
    if listed:
        return None if "*" in listed else listed
    return list(LOCAL_NAMES) if anonymous and not local(settings.host) else None


class AllowedHosts:
    """ASGI middleware: a request whose Host header names none of `hosts` gets 400 with the reason (a page of
    another site whose DNS name was rebound to this server's address sends its own name). An entry starting
    with a dot also takes the names under it (".example.org")."""

    def __init__(self, app, hosts: list[str]):
        self.app = app
        self.hosts = hosts

    def allows(self, name: str) -> bool:
        return any(name == h or (h.startswith(".") and (name.endswith(h) or name == h[1:])) for h in self.hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if self.allows(host_name(given)):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        from assistant.errors import HostNotAllowed

        refused = HostNotAllowed(f"this server does not answer to {repr(given) if given else 'no Host header'}: it "
                                 f"answers to {', '.join(self.hosts)}. An administrator adds the names it is reached "
                                 "by to CIMIC_ALLOWED_HOSTS (comma-separated)")
        await json_error(send, refused.status, refused.message)


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
                await json_error(send, 400, f"malformed call to the page's internal API ({exc.__class__.__name__})")
            return
        for message in held:
            await send(message)


async def json_error(send, status: int, message: str, headers: dict | None = None):
    """An `{"error"}` answer sent over raw ASGI, for the middlewares that answer before the app does."""
    body = json.dumps({"error": message}).encode()
    extra = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send, size, limit):
    said = f"is {size:,} bytes" if size is not None else "is larger than that"
    await json_error(send, 413, f"the request body {said}; the limit is {limit:,} bytes")


def guard(auth, allowed: list[str]):
    """The http middleware function: other origins' writes refused, the login asked for, the headers set."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    from assistant.errors import NotAuthenticated, TooManyAttempts

    async def guarded(request: Request, call_next):
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
                request.state.user = auth.sign_in(request.headers, request.client.host if request.client else None)
            except NotAuthenticated as exc:
                return JSONResponse({"error": exc.message}, exc.status, headers=LOGIN_CHALLENGE)
            except TooManyAttempts as exc:
                return JSONResponse({"error": exc.message}, exc.status, headers={"Retry-After": str(exc.retry_after)})
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

    return guarded


def install(app, settings, auth) -> None:
    """Add the middleware to `app`, innermost first: the guard, CORS (so that it answers preflights before
    the guard), Gradio's errors, the body limit, the allowed hosts."""
    from fastapi.middleware.cors import CORSMiddleware

    allowed = origins(settings)
    app.middleware("http")(guard(auth, allowed))
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_credentials=True,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    file_limit = int(settings.max_file_mb * 2**20) + 64 * 1024

    def limit_for(path: str, headers: dict) -> int | None:
        """An instructor's upload may be as large as a knowledge file; everything else keeps the small limit."""
        if not path.endswith(UPLOAD_PATHS):
            return None
        user = auth.identify({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers.items()})
        return file_limit if user and user.instructor else None

    app.add_middleware(GradioErrors)
    app.add_middleware(BodyLimit, limit_for=limit_for)
    hosts = allowed_hosts(settings, anonymous=not auth.enabled)
    if hosts is not None:
        import logging

        logging.getLogger("cimic").warning("answering to the host names %s only (CIMIC_ALLOWED_HOSTS)", ", ".join(hosts))
        app.add_middleware(AllowedHosts, hosts=hosts)
