"""Evaluations from the API (instructors; `evaluation/runs.py`): POST/GET /api/evals, GET /api/evals/{id},
its HTML report and its comparison with an earlier run. One runs at a time (409 while one runs)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import Field

from assistant.web.routes.common import Checked, checked_params, instructor, services, user_name

router = APIRouter(dependencies=[Depends(checked_params)])


class EvalRequest(Checked):
    datasets: list[str] | None = Field(None, max_length=20, description="dataset names (GET /api/evals lists them); default gold")
    backend: str = Field(..., max_length=32, description="the server's own back-end or extractive")
    sample: int | None = Field(None, description="a deterministic subset of about this many cases per dataset")


@router.post("/api/evals", status_code=202)
async def start_eval(req: EvalRequest, request: Request):
    """Start an evaluation in the background (instructors only; one at a time, 409 while one runs)."""
    instructor(request)
    run_id = await run_in_threadpool(services(request).evals.start, req.datasets, req.backend, req.sample, user_name(request))
    return {"id": run_id}


@router.get("/api/evals")
async def list_evals(request: Request):
    """Past and running evaluations, newest first, with their headline figures (instructors only)."""
    instructor(request)
    evals = services(request).evals
    runs = await run_in_threadpool(evals.list)
    return {"running": evals.running(), "datasets": list(evals.datasets()), "backends": evals.backends(), "runs": runs}


@router.get("/api/evals/{run_id}")
async def get_eval(run_id: str, request: Request):
    """One evaluation: its status, and when done its summary, splits and judge figures (instructors only)."""
    instructor(request)
    evals = services(request).evals
    run = await run_in_threadpool(evals.get, run_id)
    if run["status"] == "done":
        report = await run_in_threadpool(evals.report, run_id)
        run = {**run, **{k: report.get(k) for k in ("summary", "splits", "by_dataset", "judge", "gates")}}
    return run


@router.get("/api/evals/{run_id}/report", include_in_schema=False)
async def eval_report(run_id: str, request: Request):
    instructor(request)
    return HTMLResponse(await run_in_threadpool(services(request).evals.report_html, run_id))


@router.get("/api/evals/{run_id}/compare/{earlier_id}")
async def compare_evals(run_id: str, earlier_id: str, request: Request):
    """Metric deltas against an earlier run and the cases that changed between pass and fail."""
    instructor(request)
    return await run_in_threadpool(services(request).evals.compare, run_id, earlier_id)
