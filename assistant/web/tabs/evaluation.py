"""The Evaluation tab (instructors): start a run on chosen datasets, follow the runs table, open a report
inline, compare two runs (`evaluation/runs.py`). One evaluation at a time; the chat keeps answering."""

import html

import gradio as gr

from assistant.web.tabs.common import Page, open_tab
from assistant.web.views import render_comparison, render_runs


def evaluation_tab(page: Page) -> None:
    evals = page.evals

    def start_eval(datasets, backend, size, user=None):
        run_id = evals.start(list(datasets or []), backend, int(size) if size else None, user.name)
        return f"Evaluation {run_id} started."

    def follow_evals(known, request: gr.Request):
        """Every few seconds: the progress and the runs table; the run pickers when the runs changed."""
        if not page.instructor(request):
            return gr.update(), gr.update(), gr.update(), known
        runs = evals.list()
        table = render_runs(runs, evals.running())
        ids = [r["id"] for r in runs if r.get("status") == "done"]
        if ids == known:
            return table, gr.update(), gr.update(), known
        return table, gr.update(choices=ids, value=ids[0] if ids else None), \
            gr.update(choices=ids, value=ids[1] if len(ids) > 1 else None), ids

    def open_report(run_id, user=None):
        evals.get(run_id or "")
        src = f"api/evals/{html.escape(run_id)}/report"
        return f'<iframe id="eval-report-frame" src="{src}" title="evaluation report" style="width:100%;height:900px;border:0"></iframe>'

    def compare_runs(run_id, earlier, user=None):
        return render_comparison(evals.compare(run_id or "", earlier or ""))

    with gr.Tab("Evaluation", visible=False) as tab:
        gr.Markdown("Run the evaluation suite on a dataset and read its report; compare two runs. "
                    "One evaluation runs at a time; the chat keeps answering.")
        with gr.Row():
            names = list(evals.datasets())
            datasets = gr.CheckboxGroup(names, value=names[:1], label="Datasets", elem_id="eval-datasets")
            backend = gr.Radio(evals.backends(), value="extractive", label="Back-end", elem_id="eval-backend")
            size = gr.Number(None, precision=0, minimum=1, label="Sample size (empty: every case)", elem_id="eval-sample")
        start = gr.Button("Start evaluation", variant="primary", elem_id="eval-start")
        started = gr.Markdown(elem_id="eval-started")
        runs = gr.HTML(elem_id="eval-runs")
        known = gr.State([])
        with gr.Row():
            pick = gr.Dropdown([], label="Run", elem_id="eval-pick")
            earlier = gr.Dropdown([], label="Compare with", elem_id="eval-earlier")
        with gr.Row():
            show = gr.Button("Open report", elem_id="eval-open")
            versus = gr.Button("Compare", elem_id="eval-compare")
        compared = gr.HTML(elem_id="eval-comparison-panel")
        report = gr.HTML(elem_id="eval-report")
        start.click(page.guarded("an evaluation", start_eval), [datasets, backend, size], started)
        # the runs table follows the runs every 2 s, for instructors who opened the tab only
        timer = gr.Timer(2.0, active=False)
        tab.select(open_tab(page), None, timer)
        timer.tick(follow_evals, known, [runs, pick, earlier, known], concurrency_limit=None)
        show.click(page.guarded("an evaluation", open_report), pick, report)
        versus.click(page.guarded("an evaluation", compare_runs), [pick, earlier], compared)
    page.instructor_tabs.append(tab)
