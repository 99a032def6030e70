"""The documents (instructors; `ingest/library.py`): POST/GET /api/documents, GET|PATCH|DELETE
/api/documents/{doc_id}, GET /api/trash, POST /api/trash/{name}/restore, GET /api/index/status, POST
/api/index/jobs/{job_id}/retry|remove. Uploads are checked at once (the file parsed in a child process, the
request waiting off the event loop; a refusal is a 4xx naming what was wrong, or the limit hit) and indexed
in the background."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from assistant.userdata.fields import check_fields
from assistant.web.routes.common import Checked, checked_params, instructor, services, user_name

router = APIRouter(dependencies=[Depends(checked_params)])
WHAT = "managing documents"


class DocumentPatch(Checked):
    model_config = {"extra": "forbid"}
    title: str | None = Field(None, max_length=300)
    author: str | None = Field(None, max_length=300)
    publisher: str | None = Field(None, max_length=300)
    date: str | None = Field(None, max_length=300)
    kind: str | None = Field(None, max_length=300)


@router.post("/api/documents", status_code=202)
async def upload_document(request: Request, file: UploadFile = File(...), title: str = Form(""), author: str = Form(""),
                          publisher: str = Form(""), date: str = Form(""), kind: str = Form(""),
                          replace: bool = Form(False)):
    """Upload a document (instructors): checked at once (4xx with the reason, nothing written: 413 names the
    limit hit, 422 a file that cannot be read or yields no passage), then indexed in the background;
    `GET /api/index/status` follows the job."""
    instructor(request, WHAT)
    given = dict(title=title, author=author, publisher=publisher, date=date, kind=kind)
    check_fields({**given, "file name": file.filename or ""})  # a form is not a Checked body: the same check here
    data = await file.read()
    fields = {k: v for k, v in given.items() if v}
    return await run_in_threadpool(services(request).library.upload, file.filename or "", data, fields, replace,
                                   user_name(request))


@router.get("/api/documents")
async def list_documents(request: Request):
    """What is indexed: each document's title, kind, pages, chunks and when it was indexed, and the files skipped."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.documents)


@router.get("/api/documents/{doc_id}")
async def get_document(doc_id: str, request: Request):
    """One document and its chunks as the assistant sees them (section, page, text)."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.document, doc_id)


@router.patch("/api/documents/{doc_id}", status_code=202)
async def edit_document(doc_id: str, req: DocumentPatch, request: Request):
    """Change a document's title, author, publisher, date or kind (re-indexed in the background)."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.edit, doc_id, req.model_dump(exclude_unset=True),
                                   user_name(request))


@router.delete("/api/documents/{doc_id}", status_code=202)
async def delete_document(doc_id: str, request: Request):
    """Remove a document (or a file listed as skipped, by its id or its file name) from the index; its file is
    moved to knowledge/.trash/, from where it can be restored."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.delete, doc_id, user_name(request))


@router.get("/api/trash")
async def list_trash(request: Request):
    """What is in knowledge/.trash/, newest first: each file's name there, the file it was, its title, when it went."""
    instructor(request, WHAT)
    return {"trash": await run_in_threadpool(services(request).library.trash)}


@router.post("/api/trash/{name}/restore", status_code=202)
async def restore_document(name: str, request: Request):
    """Put a deleted file back where it was, with its sources.yaml entry, and index it (a job)."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.restore, name, user_name(request))


@router.post("/api/index/jobs/{job_id}/retry", status_code=202)
async def retry_job(job_id: str, request: Request):
    """Run a failed document job again (one interrupted by a crash included)."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.retry, job_id, user_name(request))


@router.post("/api/index/jobs/{job_id}/remove")
async def remove_job(job_id: str, request: Request):
    """Give up a failed document job: nothing of it is applied; an uploaded file goes to knowledge/.trash/."""
    instructor(request, WHAT)
    return await run_in_threadpool(services(request).library.remove, job_id, user_name(request))


@router.get("/api/index/status")
async def index_status(request: Request):
    """idle, or indexing with the running job's progress; queued and recent document jobs; `failed`: those
    waiting for retry or remove."""
    instructor(request, WHAT)
    return services(request).library.status()
