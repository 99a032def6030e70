"""Evaluations started from the page or the API: one at a time, in a background thread, while the server
keeps answering.

Each run is a folder under the reports directory (`evals/reports/<id>/`, where `cimic eval` writes too):
`run.json` (id, status "running" | "done" | "failed", dates, who started it, back-end, datasets, sample,
progress, headline figures or the error) beside the run's `report.json` and `report.html`. The list of
runs is read from those folders, so runs made with the command line appear as well. A second start while
one runs is refused (`EvalBusy`). Datasets are offered by name: every file in `evals/datasets/` and the
files named in CIMIC_EVAL_DATASETS (a generalization corpus's `cases.jsonl` is answered from the `docs/`
beside it). Leaves out: cancelling a run, several runs at once.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from assistant.config import ROOT
from assistant.errors import DatasetError, EvalBusy, NotFound
from assistant.evaluation.metrics import METRICS
from assistant.evaluation.runner import compare, dataset_name, run_eval

HEADLINE = ("fact_recall", "answerable_refused", "unanswerable_refused", "judge_groundedness", "draft_groundedness")
MAX_SAMPLE = 100_000


class EvalRuns:
    def __init__(self, settings, assistant):
        self.settings = settings
        self.assistant = assistant
        self.reports_dir = settings.resolved(settings.eval_reports_dir)
        self._lock = threading.Lock()
        self._running: str | None = None
        self._progress = (0, 0)
        self._summaries: dict[str, tuple[int, dict]] = {}  # command-line runs: folder -> (report.json mtime, summary)

    # ---- what can be run ---------------------------------------------------------------------
    def datasets(self) -> dict[str, Path]:
        files = sorted((ROOT / "evals" / "datasets").glob("*.jsonl"))
        files += [Path(p.strip()) for p in self.settings.eval_datasets.split(",") if p.strip()]
        return {dataset_name(f): f for f in files if f.exists()}

    def backends(self) -> list[str]:
        """The server's own back-end and the extractive one: a run may not load a heavier model."""
        return list(dict.fromkeys([self.assistant.backend, "extractive"]))

    # ---- starting and following a run --------------------------------------------------------
    def start(self, datasets: list[str] | None, backend: str, sample: int | None, user: str = "") -> str:
        known = self.datasets()
        datasets = list(datasets or ["gold"])
        unknown = [d for d in datasets if d not in known]
        if unknown or not datasets:
            raise DatasetError(f"unknown dataset {', '.join(map(repr, unknown))}; known: {', '.join(known) or 'none'}")
        if backend not in self.backends():
            raise DatasetError(f"this server evaluates with {' or '.join(self.backends())}, not {backend!r}")
        if sample is not None and not (isinstance(sample, int) and 1 <= sample <= MAX_SAMPLE):
            raise DatasetError(f"the sample size must be a whole number from 1 to {MAX_SAMPLE:,}, not {sample!r}")
        with self._lock:
            if self._running:
                raise EvalBusy(f"an evaluation is running already ({self._running}); wait for it to finish")
            run_id = time.strftime("%Y%m%d-%H%M%S")
            while (self.reports_dir / run_id).exists():
                run_id += "-2"
            self._running, self._progress = run_id, (0, 0)
        meta = {"id": run_id, "status": "running", "started": time.strftime("%Y-%m-%d %H:%M:%S"), "finished": None,
                "by": user, "backend": backend, "datasets": datasets, "sample": sample}
        folder = self.reports_dir / run_id
        folder.mkdir(parents=True)
        self._write(folder, meta)
        threading.Thread(target=self._run, args=(folder, meta, [known[d] for d in datasets]), daemon=True,
                         name=f"eval-{run_id}").start()
        return run_id

    def _run(self, folder: Path, meta: dict, paths: list[Path]) -> None:
        try:
            report = run_eval(self.settings, paths, folder, backend=meta["backend"], progress=False,
                              gates_file=ROOT / "evals" / "gates.yaml", sample_size=meta["sample"],
                              assistant=self.assistant.for_backend(meta["backend"]),
                              on_progress=lambda done, total: setattr(self, "_progress", (done, total)))
            meta.update(status="done", headline=headline(report), cases=report["meta"]["cases"],
                        passed=report["summary"]["cases"]["passed"], gates_missed=report["gates"]["missed"])
        except Exception as exc:  # a failed run is reported in its run.json; the server goes on
            meta.update(status="failed", error=getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
        meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        self._write(folder, meta)
        with self._lock:
            self._running = None

    @staticmethod
    def _write(folder: Path, meta: dict) -> None:
        tmp = folder / "run.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "run.json")

    def running(self) -> dict | None:
        """The run in progress with its progress (cases done of total), or None."""
        with self._lock:
            run_id, (done, total) = self._running, self._progress
        return None if run_id is None else {"id": run_id, "done": done, "total": total}

    # ---- past runs ---------------------------------------------------------------------------
    def list(self) -> list[dict]:
        """Every run in the reports directory, newest first (runs made by `cimic eval` included)."""
        runs = []
        if self.reports_dir.is_dir():
            for folder in self.reports_dir.iterdir():
                run = self._read(folder)
                if run:
                    runs.append(run)
        return sorted(runs, key=lambda r: r.get("started") or "", reverse=True)

    def _read(self, folder: Path) -> dict | None:
        try:
            if (folder / "run.json").exists():
                run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
            elif (folder / "report.json").exists():
                run = self._command_line_run(folder)
            else:
                return None
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            return None
        running = self.running()
        if running and running["id"] == run.get("id"):
            run["progress"] = {"done": running["done"], "total": running["total"]}
        return run

    def _command_line_run(self, folder: Path) -> dict:
        """A run made by `cimic eval` (no run.json), summarised from its report once per version of the
        file: the page asks for the list every few seconds, and a report can be tens of megabytes."""
        mtime = (folder / "report.json").stat().st_mtime_ns
        known = self._summaries.get(folder.name)
        if known is None or known[0] != mtime:
            report = self.report(folder.name)
            m = report["meta"]
            known = self._summaries[folder.name] = (mtime, {
                "id": folder.name, "status": "done", "started": m.get("started"), "finished": m.get("finished"),
                "by": "command line", "backend": m.get("backend"),
                "datasets": [dataset_name(Path(p)) for p in m.get("datasets") or [m.get("dataset", "")]],
                "sample": m.get("sample"), "headline": headline(report), "cases": m.get("cases"),
                "passed": report["summary"]["cases"]["passed"], "gates_missed": report["gates"]["missed"]})
        return dict(known[1])

    def get(self, run_id: str) -> dict:
        folder = self._folder(run_id)
        run = self._read(folder)
        if run is None:
            raise NotFound(f"no evaluation {run_id!r}")
        return run

    def _folder(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
            raise NotFound(f"no evaluation {run_id!r}")
        return self.reports_dir / run_id

    def report(self, run_id: str) -> dict:
        try:
            return json.loads((self._folder(run_id) / "report.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise NotFound(f"evaluation {run_id!r} has no report (yet)") from exc

    def report_html(self, run_id: str) -> str:
        try:
            return (self._folder(run_id) / "report.html").read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFound(f"evaluation {run_id!r} has no report (yet)") from exc

    def compare(self, run_id: str, earlier_id: str) -> dict:
        """Metric deltas of a run against an earlier one and the cases that changed between pass and fail."""
        new, old = self.report(run_id), self.report(earlier_id)
        return {"run": run_id, "earlier": earlier_id, **compare(new["cases"], new["summary"], old)}


def headline(report: dict) -> dict:
    return {name: report["summary"][name]["mean"] for name in HEADLINE if name in METRICS}
