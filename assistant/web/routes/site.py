"""The server's own pages beside the API: /docs (the endpoints from the OpenAPI schema, a plain page that
needs no network: Swagger UI and ReDoc load from a CDN an offline intranet cannot reach), /redoc and /embed
redirects, and `fallback`, included last: unknown /api/ paths and wrong methods answer `{"error"}` too."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

router = APIRouter(include_in_schema=False)
fallback = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs(request: Request):
    """The endpoints, from the OpenAPI schema, as a plain page that needs no network."""
    rows = []
    for path, ops in request.app.openapi()["paths"].items():
        for method, op in ops.items():
            rows.append(f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}</code></td>"
                        f"<td>{escape(op.get('description') or op.get('summary') or '')}</td></tr>")
    return HTMLResponse("<!doctype html><meta charset=utf-8><title>CIMIC assistant API</title>"
                        "<h1>CIMIC doctrine assistant: REST API</h1><p>Machine-readable schema: "
                        "<a href=/openapi.json>/openapi.json</a></p><table>" + "".join(rows) + "</table>")


@router.get("/redoc")
async def redoc():
    """FastAPI's other documentation address: the same offline page."""
    return RedirectResponse("/docs", 307)


@router.get("/embed")
async def embed_without_slash(request: Request):
    return RedirectResponse(f"/embed/{'?' + request.url.query if request.url.query else ''}", 307)


@fallback.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def no_such_endpoint(rest: str, request: Request):
    """Anything under /api/ that no route above takes: an {"error"} body like every other API answer."""
    routes = request.app.state.api_routes  # included routers' routes (FastAPI keeps them inside their router)
    known = {r.path for r in routes if getattr(r, "path", "").startswith("/api/") and "{" not in r.path}
    path = request.url.path
    if path in known:
        allowed = sorted({m for r in routes if getattr(r, "path", "") == path for m in getattr(r, "methods", ())})
        return JSONResponse({"error": f"{path} takes {', '.join(allowed)}, not {request.method}"}, 405,
                            headers={"Allow": ", ".join(allowed)})
    return JSONResponse({"error": f"no API endpoint {path}"}, 404)
