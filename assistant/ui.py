"""The Gradio chat page: streaming answers, clickable [n] citations, a source panel, a grounding badge,
example questions, thumbs up/down with a comment, a glossary tab and an instructors' review tab; the
embed view is the chat and sources alone. Built by `build_ui(...)`; nothing at import.

Errors the chain raises for bad input are shown with their own message (`gr.Error`). Every text that
comes from a document or a user is HTML-escaped before it is shown.
"""

import html
import re

from assistant.grounding import cited_sentences

EXAMPLES = ["What was Operation Rescript?", "What is CMI?", "What are the seven baseline requirements for civil preparedness?",
            "Which lessons does Ukraine's experience offer the EU?"]


def plain_text(content) -> str:
    """A chat message's text as the user saw it: Gradio 6 hands messages back as text or as a list of
    content blocks; tags we added are dropped and entities decoded."""
    if isinstance(content, list):
        content = " ".join(plain_text(c) for c in content)
    elif isinstance(content, dict):
        content = content.get("text") or ""
    return html.unescape(re.sub(r"<[^>]+>", "", str(content or ""))).strip()


def render_answer(answer) -> str:
    text = html.escape(answer.answer)
    text = re.sub(r"\[(\d+)\]", lambda m: f'<a href="#src-{m.group(1)}" class="cite">[{m.group(1)}]</a>', text)
    if answer.notice:
        text += f"\n\n<em>Notice: {html.escape(answer.notice)}</em>"
    return text


def render_sources(answer) -> str:
    """Every cited passage with its title, section and page; in each, the words of the sentences that cite
    it are highlighted."""
    if answer.refused:
        return "<p>No sources: the question is outside what the doctrine sources cover.</p>"
    cited = [(sentence, ns) for sentence, ns in cited_sentences(answer.answer) if ns]
    total = len(cited) + len(answer.unsupported)
    parts = [f'<p class="badge">{len(cited)} of {total} sentences supported (grounding {answer.grounding:.2f})</p>']
    for c in answer.citations:
        words = {w.lower() for sentence, ns in cited if c.n in ns for w in re.findall(r"\w{3,}", sentence)}
        where = html.escape(c.title) + (f" — {html.escape(c.section)}" if c.section else "") + (f", p. {c.page}" if c.page else "")
        body = re.sub(r"\b(\w{3,})\b", lambda m: f"<mark>{m.group(1)}</mark>" if m.group(1).lower() in words else m.group(1),
                      html.escape(c.text))
        parts.append(f'<div id="src-{c.n}" class="source"><b>[{c.n}] {where}</b><p>{body}</p></div>')
    return "\n".join(parts)


def render_feedback(rows: list[dict]) -> str:
    if not rows:
        return "<p>No thumbs-down answers yet.</p>"
    out = ['<table class="review"><tr><th>When</th><th>User</th><th>Question</th><th>Answer</th><th>Comment</th><th>Sources</th></tr>']
    for r in rows:
        cites = "; ".join(f"[{c.get('n')}] {c.get('title')}" for c in r.get("citations", []))
        cells = [r["created_at"], r.get("user") or "", r["question"], r["answer"], r.get("comment") or "", cites]
        out.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    return "\n".join(out + ["</table>"])


def render_runs(runs: list[dict], running: dict | None) -> str:
    """The progress of the run in progress, then the past runs as a table, newest first."""
    out = []
    if running:
        done, total = running["done"], running["total"]
        out.append(f'<p id="eval-progress">Evaluation {html.escape(running["id"])} running: {done} of {total or "?"} cases '
                   f'<progress value="{done}" max="{max(total, 1)}"></progress></p>')
    if not runs:
        return "\n".join(out + ["<p>No evaluation has been run yet.</p>"])
    names = ["fact_recall", "answerable_refused", "unanswerable_refused", "judge_groundedness"]
    out.append('<div style="overflow-x:auto"><table class="review" id="eval-runs-table"><tr><th>Run</th><th>Status</th><th>Started</th><th>By</th>'
               '<th>Back-end</th><th>Datasets</th><th>Passed</th>' + "".join(f"<th>{n}</th>" for n in names) + "<th>Gates</th></tr>")
    for r in runs:
        head = r.get("headline") or {}
        status = r.get("status", "")
        if status == "failed":
            status += ": " + (r.get("error") or "")
        cells = [r["id"], status, r.get("started") or "", r.get("by") or "", r.get("backend") or "",
                 ", ".join(r.get("datasets") or []), f"{r['passed']} of {r['cases']}" if r.get("cases") is not None else ""]
        cells += ["" if head.get(n) is None else f"{head[n]:.3f}" for n in names]
        cells.append("" if r.get("gates_missed") is None else ("missed: " + "; ".join(r["gates_missed"]) if r["gates_missed"] else "met"))
        out.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    return "\n".join(out + ["</table></div>"])


def render_comparison(c: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{'' if d is None else f'{d:+.3f}'}</td></tr>"
                   for name, d in c["deltas"].items())
    changed = "".join(f"<li>{html.escape(x['id'])} ({html.escape(x.get('question') or '')}): {x['was']} → {x['now']}</li>"
                      for x in c["changed"]) or "<li>No case changed between pass and fail.</li>"
    return (f'<div id="eval-comparison"><h3>{html.escape(c["run"])} against {html.escape(c["earlier"])}</h3>'
            f'<table class="review"><tr><th>Metric</th><th>Change</th></tr>{rows}</table><ul>{changed}</ul></div>')


CSS = ".source mark { background: #fde68a; } .source:target { outline: 2px solid #f97316; } .badge { font-weight: 600; } table.review td { vertical-align: top; }"
SOURCES_PLACEHOLDER = "<p>Sources of the latest answer appear here.</p>"


def build_ui(assistant, glossary_entries, feedback, auth=None, embed: bool = False, evals=None):
    """The chat page; `embed=True` gives the view for intranet iframes: chat and sources, no tabs. With
    `evals` (`eval_runs.EvalRuns`), an Evaluation tab for instructors."""
    import gradio as gr

    from assistant.auth import Auth
    from assistant.errors import AssistantError
    from assistant.feedback import Feedback
    from assistant.ingest.glossary import search_glossary

    auth = auth or Auth()

    def respond(message, chat, answers):
        chat = list(chat or [])
        answers = dict(answers or {})
        history = []
        pending = None
        for m in chat:
            if m["role"] == "user":
                pending = plain_text(m["content"])
            elif pending is not None:
                history.append([pending, plain_text(m["content"])])
                pending = None
        try:
            events = assistant.ask_stream(message, history)
            chat.append({"role": "user", "content": html.escape(message)})
            chat.append({"role": "assistant", "content": ""})
            draft = ""
            for event in events:
                if event["type"] == "token":
                    draft += event["text"]
                    chat[-1]["content"] = html.escape(draft)
                    yield chat, gr.update(), "", answers
                else:
                    answer = event["answer"]
                    chat[-1]["content"] = render_answer(answer)
                    answers[str(len(chat) - 1)] = answer.to_dict()
                    yield chat, render_sources(answer), "", answers
        except AssistantError as exc:
            raise gr.Error(exc.message)

    def rate(answers, comment, data: gr.LikeData, request: gr.Request):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answer = (answers or {}).get(str(index))
        if answer is None:
            return "Rate an answer of this conversation.", comment
        user = auth.identify(request.headers) if request is not None else None
        entry = Feedback.on_answer(answer, "up" if data.liked is True else "down", comment, user.name if user else "")
        try:
            outcome = feedback.add(entry)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        thanks = "Thank you: your feedback was stored." if outcome == "stored" else \
            "Thank you: the feedback database is busy, your feedback is queued and will be stored."
        return thanks, ""

    def need_instructor(request, what: str):
        return auth.require(request.headers if request is not None else {}, instructor=True, what=what)

    def review(request: gr.Request):
        try:
            need_instructor(request, "the review")
        except AssistantError as exc:
            raise gr.Error(exc.message)
        return render_feedback(feedback.list("down"))

    def instructor(request) -> bool:
        user = auth.identify(request.headers) if request is not None else None
        return bool(user and user.instructor)

    def start_eval(datasets, backend, size, request: gr.Request):
        try:
            user = need_instructor(request, "an evaluation")
            run_id = evals.start(list(datasets or []), backend, int(size) if size else None, user.name)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        return f"Evaluation {run_id} started."

    def open_evaluation_tab(request: gr.Request):
        return gr.Timer(active=instructor(request))

    def follow_evals(known, request: gr.Request):
        """Every few seconds: the progress and the runs table; the run pickers when the runs changed."""
        if not instructor(request):
            return gr.update(), gr.update(), gr.update(), known
        runs = evals.list()
        table = render_runs(runs, evals.running())
        ids = [r["id"] for r in runs if r.get("status") == "done"]
        if ids == known:
            return table, gr.update(), gr.update(), known
        return table, gr.update(choices=ids, value=ids[0] if ids else None), \
            gr.update(choices=ids, value=ids[1] if len(ids) > 1 else None), ids

    def open_report(run_id, request: gr.Request):
        try:
            need_instructor(request, "an evaluation")
            evals.get(run_id or "")
        except AssistantError as exc:
            raise gr.Error(exc.message)
        src = f"api/evals/{html.escape(run_id)}/report"
        return f'<iframe id="eval-report-frame" src="{src}" title="evaluation report" style="width:100%;height:900px;border:0"></iframe>'

    def compare_runs(run_id, earlier, request: gr.Request):
        try:
            need_instructor(request, "an evaluation")
            return render_comparison(evals.compare(run_id or "", earlier or ""))
        except AssistantError as exc:
            raise gr.Error(exc.message)

    def lookup(q):
        rows = search_glossary(glossary_entries, q or "")
        if not rows:
            return f"No glossary entry matches “{html.escape(q or '')}”."
        out = []
        for e in rows[:10]:
            block = f"<h3>{html.escape(e.term)}</h3><p>{html.escape(e.definition)}</p>"
            if e.nato_agreed:
                block += f"<p><b>NATO agreed:</b> “{html.escape(e.nato_agreed)}”</p>"
            if e.sources:
                block += "<p><small>Sources: " + "; ".join(html.escape(s) for s in e.sources) + "</small></p>"
            out.append(block)
        return "\n".join(out)

    def chat_panel():
        answers = gr.State({})
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=420 if embed else 480, sanitize_html=True,
                                  elem_id="chat", feedback_options=("Like", "Dislike"))
                box = gr.Textbox(label="Your question", placeholder="e.g. What was Operation Rescript?", elem_id="question")
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("Clear")
                comment = gr.Textbox(label="Comment with your thumbs up or down (optional)", elem_id="comment", max_lines=3)
                status = gr.Markdown(elem_id="feedback-status")
                if not embed:
                    gr.Examples(EXAMPLES, inputs=box)
            with gr.Column(scale=2):
                sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="sources")
        send.click(respond, [box, chat, answers], [chat, sources, box, answers])
        box.submit(respond, [box, chat, answers], [chat, sources, box, answers])
        clear.click(lambda: ([], SOURCES_PLACEHOLDER, "", {}), None, [chat, sources, box, answers])
        chat.like(rate, [answers, comment], [status, comment])

    with gr.Blocks(title="CIMIC doctrine assistant", fill_height=embed) as demo:
        if embed:
            chat_panel()
            return demo
        gr.Markdown("## CIMIC doctrine assistant\nEvery sentence of an answer cites the doctrine passage it comes from.")
        with gr.Tab("Ask"):
            chat_panel()
        with gr.Tab("Glossary"):
            q = gr.Textbox(label="Term, acronym or keyword", elem_id="glossary-query")
            found = gr.HTML()
            q.submit(lookup, q, found)
            gr.Button("Find").click(lookup, q, found)
        with gr.Tab("Review"):
            gr.Markdown("Thumbs-down answers, newest first. Needs an instructor login.")
            shown = gr.HTML(elem_id="review")
            gr.Button("Show thumbs-down answers", elem_id="review-load").click(review, None, shown)
        if evals is not None:
            with gr.Tab("Evaluation") as tab:
                gr.Markdown("Run the evaluation suite on a dataset and read its report; compare two runs. "
                            "Needs an instructor login. One evaluation runs at a time; the chat keeps answering.")
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
                start.click(start_eval, [datasets, backend, size], started)
                # the runs table follows the runs every 2 s, for instructors who opened the tab only
                timer = gr.Timer(2.0, active=False)
                tab.select(open_evaluation_tab, None, timer)
                timer.tick(follow_evals, known, [runs, pick, earlier, known], concurrency_limit=None)
                show.click(open_report, pick, report)
                versus.click(compare_runs, [pick, earlier], compared)
    return demo
