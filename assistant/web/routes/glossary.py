"""GET /api/glossary?q=...: glossary entries found by name, acronym, keyword or a word of the definition."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from assistant.ingest.glossary import search_glossary
from assistant.web.routes.common import checked_params, services

router = APIRouter(dependencies=[Depends(checked_params)])


@router.get("/api/glossary")
async def glossary(request: Request, q: str = ""):
    hits = [e.as_dict() for e in search_glossary(services(request).glossary, q[:200])]
    return {"count": len(hits), "entries": hits}
