"""The Gradio chat page: streaming answers, clickable [n] citations, a source panel, a grounding badge,
example questions, thumbs up/down with a comment, the user's saved conversations, a glossary tab, and for
instructors only the review, evaluation and documents tabs; the embed view is the chat and sources
alone. Built by `build_ui(...)`; nothing at import.

Each answer keeps its own sources: its [n] marks link to its own passages in the source panel (every
answer of the conversation is there, newest first), and under each answer a collapsed list of its
sources serves narrow screens, where the panel is hidden. Errors the chain raises for bad input are
shown with their own message (`gr.Error`). Every text that comes from a document or a user is escaped
before it is shown; a passage's Markdown is rendered with raw HTML, links and images switched off.
"""

import html
import re
import uuid
from pathlib import Path

from assistant.grounding import cited_sentences
from assistant.text import STOPWORDS, content_words, stem

EXAMPLES = ["What was Operation Rescript?", "What is CMI?", "What are the seven baseline requirements for civil preparedness?",
            "Which lessons does Ukraine's experience offer the EU?"]
DOCUMENT_TYPES = [".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"]


def plain_text(content) -> str:
    """A chat message's text as the user saw it: Gradio 6 hands messages back as text or as a list of
    content blocks; tags we added are dropped and entities decoded."""
    if isinstance(content, list):
        content = " ".join(plain_text(c) for c in content)
    elif isinstance(content, dict):
        content = content.get("text") or ""
    return html.unescape(re.sub(r"<[^>]+>", "", str(content or ""))).strip()


def _markdown():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False})
    md.disable(["image", "link", "autolink", "html_inline", "html_block"])
    return md


_MD = None


def passage_html(text: str, words: set[str]) -> str:
    """A passage's Markdown as safe HTML (no raw HTML, links or images), its words whose stem is one of
    `words` marked; stop words are never marked."""
    global _MD
    _MD = _MD or _markdown()
    body = _MD.render(text)

    def mark(segment: str) -> str:
        return re.sub(r"\b(\w[\w'’-]*\w|\w)\b", lambda m: f"<mark>{m.group(1)}</mark>"
                      if m.group(1).lower() not in STOPWORDS and len(m.group(1)) > 1 and stem(m.group(1).lower()) in words
                      else m.group(1), segment)

    return re.sub(r">([^<]+)<", lambda m: ">" + mark(m.group(1)) + "<", body)


def _cited(answer: dict) -> list[tuple[str, list[int]]]:
    return [(sentence, ns) for sentence, ns in cited_sentences(answer["answer"]) if ns]


def _where(c: dict) -> str:
    return html.escape(c["title"]) + (f" — {html.escape(c['section'])}" if c.get("section") else "") + \
        (f", p. {c['page']}" if c.get("page") else "")


def _passages(answer: dict, anchor: str | None) -> str:
    """The answer's cited passages, each with its title, section and page, the words of the sentences
    that cite it marked; `anchor` prefixes their ids (the panel's copy is the one links go to)."""
    cited = _cited(answer)
    parts = []
    for c in answer["citations"]:
        words = {w for sentence, ns in cited if c["n"] in ns for w in content_words(sentence)}
        ident = f' id="{anchor}-src-{c["n"]}"' if anchor else ""
        parts.append(f'<div{ident} class="source"><b>[{c["n"]}] {_where(c)}</b>{passage_html(c["text"], words)}</div>')
    return "\n".join(parts)


def _badge(answer: dict) -> str:
    if answer["refused"]:
        return "<p>No sources: the question is outside what the doctrine sources cover.</p>"
    supported = len(_cited(answer))
    total = supported + len(answer.get("unsupported") or [])
    return f'<p class="badge">{supported} of {total} sentences supported (grounding {answer["grounding"]:.2f})</p>'


def render_answer(answer: dict, turn: int) -> str:
    """An answer in the chat: its [n] marks link to its own passages in the panel (ids a<turn>-src-<n>);
    below it, its sources collapsed (shown on narrow screens, where the panel is hidden)."""
    text = html.escape(answer["answer"])
    text = re.sub(r"\[(\d+)\]", lambda m: f'<a href="#a{turn}-src-{m.group(1)}" class="cite">[{m.group(1)}]</a>', text)
    if answer.get("notice"):
        text += f"\n\n<em>Notice: {html.escape(answer['notice'])}</em>"
    if answer["citations"]:
        text += (f'\n\n<details class="answer-sources"><summary>Sources ({len(answer["citations"])})</summary>'
                 f'{_passages(answer, None)}</details>')
    return text


def render_sources(answers: dict) -> str:
    """The source panel: every answer of the conversation with its own passages, newest first."""
    if not answers:
        return SOURCES_PLACEHOLDER
    parts = []
    for turn in sorted(answers, key=int, reverse=True):
        a = answers[turn]
        parts.append(f'<section class="answer-block" id="a{turn}"><h4>{html.escape(a.get("question") or "")}</h4>'
                     f'{_badge(a)}{_passages(a, f"a{turn}") if not a["refused"] else ""}</section>')
    return "\n".join(parts)


def chat_of(turns: list[dict]) -> tuple[list[dict], dict]:
    """A saved conversation's turns as chat messages and the answers state (by message index)."""
    chat, answers = [], {}
    for t in turns:
        chat.append({"role": "user", "content": html.escape(t["question"])})
        answers[str(len(chat))] = t["answer"]
        chat.append({"role": "assistant", "content": render_answer(t["answer"], len(chat))})
    return chat, answers


def history_of(answers: dict) -> list[list[str]]:
    return [[answers[k].get("question", ""), answers[k].get("answer", "")] for k in sorted(answers, key=int)]


def render_documents(listing: dict) -> str:
    rows = listing["documents"]
    out = ['<div style="overflow-x:auto"><table class="review" id="documents-table"><tr><th>Document</th><th>Title</th>'
           '<th>Kind</th><th>Author or publisher</th><th>Date</th><th>Pages</th><th>Chunks</th><th>Indexed</th></tr>']
    for r in rows:
        cells = [r["file"], r["title"], r["kind"], r.get("author") or r.get("publisher") or "", r.get("date") or "",
                 r.get("pages") or "", r["chunks"], r.get("indexed_at") or ""]
        out.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    out.append("</table></div>")
    if listing["skipped"]:
        out.append("<p><b>Skipped files</b></p><ul id=\"skipped-files\">" + "".join(
            f"<li>{html.escape(s['file'])}: {html.escape(s['reason'])}</li>" for s in listing["skipped"]) + "</ul>")
    return "\n".join(out)


def render_jobs(status: dict) -> str:
    out = []
    job = status.get("job")
    if job:
        total = job["total"] or 0
        out.append(f'<p id="index-progress">Indexing {html.escape(job["file"])} ({job["action"]}): {job["done"]} of '
                   f'{total or "?"} chunks embedded <progress value="{job["done"]}" max="{max(total, 1)}"></progress></p>')
    else:
        out.append('<p id="index-progress">The index is idle: questions are answered from every document listed below.</p>')
    if status.get("queued"):
        out.append("<p>Waiting: " + ", ".join(html.escape(j["file"]) for j in status["queued"]) + "</p>")
    if status.get("recent"):
        out.append('<ul id="document-jobs">' + "".join(
            f"<li>{html.escape(j['finished'] or '')} {html.escape(j['file'])}: {html.escape(j['outcome'])}</li>"
            for j in status["recent"][:10]) + "</ul>")
    return "\n".join(out)


def render_practice_question(q: dict | None) -> str:
    if not q:
        return ""
    where = q["citations"][0]
    place = html.escape(where["title"]) + (f" — {html.escape(where['section'])}" if where.get("section") else "")
    return (f'<div id="practice-q"><p><b>Question {q["number"]} of {q["total"]}</b> <small>({html.escape(q["kind"])}; '
            f'the answer is in {place})</small></p><p class="practice-text">{html.escape(q["text"])}</p></div>')


def render_graded(result: dict) -> str:
    """The grade, the key points found and missing, and the passage that justifies it, cited [1], with the
    found points marked and the missing ones marked in red."""
    c = result["citations"][0]
    body = html.escape(c["text"])
    for point in result["found"]:
        body = body.replace(html.escape(point), f'<mark class="found">{html.escape(point)}</mark>', 1)
    for point in result["missing"]:
        body = body.replace(html.escape(point), f'<mark class="missing">{html.escape(point)}</mark>', 1)
    label = {"correct": "Correct", "partial": "Partly correct", "incorrect": "Incorrect"}[result["grade"]]
    parts = [f'<p class="grade grade-{result["grade"]}" id="practice-grade">{label}</p>']
    if result["found"]:
        parts.append("<p>Found: " + "; ".join(html.escape(p) for p in result["found"]) + "</p>")
    if result["missing"]:
        parts.append('<p>Missing: ' + "; ".join(html.escape(p) for p in result["missing"]) + " [1]</p>")
    if result.get("wrong"):
        parts.append("<p>Not in the source: " + "; ".join(html.escape(w) for w in result["wrong"]) + "</p>")
    where = _where(c)
    parts.append(f'<div class="source practice-passage"><b>[1] {where}</b><p style="white-space:pre-wrap">{body}</p></div>')
    return "\n".join(parts)


def render_summary(summary: dict | None) -> str:
    if not summary:
        return ""
    out = [f'<h3 id="practice-score">Score: {summary["score"]:g} of {summary["answered"]} '
           f'({summary["correct"]} correct)</h3>']
    if summary["missed"]:
        out.append("<p>To practise again:</p><ul>")
        for m in summary["missed"]:
            c = (m["citations"] or [{}])[0]
            out.append(f"<li>{html.escape(m['text'])} <small>({m['grade']}; {_where(c) if c else ''})</small></li>")
        out.append("</ul>")
    return "\n".join(out)


def render_progress(p: dict) -> str:
    if not p["topics"]:
        return "<p>No practice yet.</p>"
    rows = []
    for t in p["topics"]:
        history = ", ".join(f"{s['at']}: {s['correct']}/{s['answered']}" for s in t["sessions"][-6:])
        rows.append(f"<tr><td>{html.escape(t['topic'])}</td><td>{t['answered']}</td><td>{t['correct']}</td>"
                    f"<td>{t['partial']}</td><td>{html.escape(history)}</td></tr>")
    boxes = ", ".join(f"box {n}: {c}" for n, c in p["boxes"].items())
    return (f'<table class="review" id="practice-progress-table"><tr><th>Topic</th><th>Answered</th><th>Correct</th>'
            f'<th>Partly</th><th>Sessions (correct of answered)</th></tr>{"".join(rows)}</table>'
            f'<p>Questions due again: {p["due"]} ({boxes})</p>')


def render_class(c: dict) -> str:
    topics = "".join(f"<tr><td>{html.escape(t['topic'])}</td><td>{t['trainees']}</td><td>{t['answers']}</td>"
                     f"<td>{t['correct']}</td></tr>" for t in c["topics"])
    questions = "".join(f"<tr><td>{html.escape(q['question'])}</td><td>{html.escape(q['document'])}</td><td>{q['tried']}</td>"
                        f"<td>{q['right']}</td></tr>" for q in c["questions"])
    return (f'<table class="review" id="class-topics"><tr><th>Topic</th><th>Trainees</th><th>Answers</th><th>Correct</th></tr>'
            f'{topics}</table><table class="review" id="class-questions"><tr><th>Question</th><th>Document</th>'
            f'<th>Trainees who tried</th><th>Got it right</th></tr>{questions}</table>')


def render_chunks(doc: dict) -> str:
    head = f"<h3>{html.escape(doc['title'])}</h3><p>{doc['chunks']} chunks" + (f", {doc['pages']} pages" if doc.get("pages") else "") + "</p>"
    items = []
    for c in doc["chunk_list"]:
        where = html.escape(c["section"] or "") + (f", p. {c['page']}" if c.get("page") else "")
        items.append(f'<div class="source"><b>{where or "(no section)"}</b>{passage_html(c["text"], set())}</div>')
    return head + "\n".join(items)


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


CSS = """
.source mark { background: #fde68a; } .source:target { outline: 2px solid #f97316; } .badge { font-weight: 600; }
table.review td { vertical-align: top; } .answer-block h4 { margin: 0.8em 0 0.2em; }
.answer-sources summary { cursor: pointer; font-size: 0.9em; }
mark.missing { background: #fecaca; } mark.found { background: #bbf7d0; } .grade { font-weight: 700; font-size: 1.1em; }
.grade-correct { color: #15803d; } .grade-partial { color: #b45309; } .grade-incorrect { color: #b91c1c; }
@media (min-width: 700px) { .answer-sources { display: none; } }
@media (max-width: 699px) { #sources-column { display: none !important; } #conversations-column { order: 3; } }
"""
SOURCES_PLACEHOLDER = "<p>Sources of each answer appear here.</p>"


def build_ui(assistant, glossary_entries, feedback, auth=None, embed: bool = False, evals=None, library=None,
             conversations=None, tutor=None):
    """The chat page; `embed=True` gives the view for intranet iframes: chat and sources, no tabs. With
    `evals` (`eval_runs.EvalRuns`) an Evaluation tab and with `library` (`library.Library`) a Documents
    tab, both shown to instructors only; with `conversations` (`conversations.ConversationStore`) every
    question and answer is saved for its user and the page lists the user's conversations; with `tutor`
    (`practice.tutor.Tutor`) a Practice tab, whose class view is for instructors."""
    import gradio as gr

    from assistant.auth import Auth
    from assistant.conversations import markdown, owner_of
    from assistant.errors import AssistantError
    from assistant.feedback import Feedback
    from assistant.ingest.glossary import search_glossary

    auth = auth or Auth()

    def user_of(request):
        return auth.identify(request.headers) if request is not None else None

    def owner(request, client) -> str | None:
        user = user_of(request)
        return owner_of(user.name if user else "", client)

    def conversation_choices(who) -> list[tuple[str, str]]:
        if not who:
            return []
        return [(f"{c['title']} ({c['updated_at'][:10]})", c["id"]) for c in conversations.list(who)]

    def respond(message, chat, answers, conv, client, request: gr.Request):  # noqa: C901
        chat = list(chat or [])
        answers = dict(answers or {})
        try:
            events = assistant.ask_stream(message, history_of(answers))
            chat.append({"role": "user", "content": html.escape(message)})
            chat.append({"role": "assistant", "content": ""})
            draft = ""
            for event in events:
                if event["type"] == "token":
                    draft += event["text"]
                    chat[-1]["content"] = html.escape(draft)
                    yield chat, gr.update(), "", answers, conv, gr.update()
                else:
                    answer = event["answer"].to_dict()
                    turn = len(chat) - 1
                    chat[-1]["content"] = render_answer(answer, turn)
                    answers[str(turn)] = answer
                    who, listed = owner(request, client), gr.update()
                    if who and conversations is not None:
                        conv = conversations.add_turn(who, conv, message, answer)
                        listed = gr.update(choices=conversation_choices(who), value=conv) if has_list else None
                    yield chat, render_sources(answers), "", answers, conv, listed
        except AssistantError as exc:
            raise gr.Error(exc.message)

    def rate(answers, comment, data: gr.LikeData, request: gr.Request):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answer = (answers or {}).get(str(index))
        if answer is None:
            return "Rate an answer of this conversation.", comment
        user = user_of(request)
        entry = Feedback.on_answer(answer, "up" if data.liked is True else "down", comment, user.name if user else "")
        try:
            outcome = feedback.add(entry)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        thanks = "Thank you: your feedback was stored." if outcome == "stored" else \
            "Thank you: the feedback database is busy, your feedback is queued and will be stored."
        return thanks, ""

    def instructor(request) -> bool:
        user = user_of(request)
        return bool(user and user.instructor)

    def need_instructor(request, what: str):
        return auth.require(request.headers if request is not None else {}, instructor=True, what=what)

    def guarded(what: str, fn):
        """`fn(*inputs, user=...)` run for an instructor only; a refusal or bad input is shown with its reason.
        Gradio reads the handler's signature to pass the request: it is fn's inputs and then `request`."""
        import inspect

        def run(*args):
            *inputs, request = args
            try:
                user = need_instructor(request, what)
                return fn(*inputs, user=user)
            except AssistantError as exc:
                raise gr.Error(exc.message)

        params = [p for name, p in inspect.signature(fn).parameters.items() if name != "user"]
        run.__signature__ = inspect.Signature(params + [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                                          annotation=gr.Request)])
        run.__annotations__ = {"request": gr.Request}  # Gradio reads the type hints, not only the signature
        return run

    # ---- conversations -------------------------------------------------------------------------
    def on_load(client, request: gr.Request):
        """The browser's id (made on the first visit), the user's conversations, and the tabs this user may see."""
        client = client or uuid.uuid4().hex
        who = owner(request, client)
        tabs = gr.update(visible=instructor(request))
        listed = gr.update(choices=conversation_choices(who), value=None) if has_list else None
        return (client, listed) + (tabs,) * len(instructor_tabs)

    def open_conversation(conv, client, request: gr.Request):
        who = owner(request, client)
        if not conv or not who:
            return gr.update(), gr.update(), gr.update(), conv, ""
        try:
            chat, answers = chat_of(conversations.get(who, conv)["turns"])
        except AssistantError as exc:
            raise gr.Error(exc.message)
        return chat, answers, render_sources(answers), conv, ""

    def new_conversation():
        return [], {}, SOURCES_PLACEHOLDER, None, gr.update(value=None) if has_list else None, ""

    def rename_conversation(conv, title, client, request: gr.Request):
        who = owner(request, client)
        if not conv or not who:
            raise gr.Error("Open a saved conversation first, then rename it.")
        try:
            conversations.rename(who, conv, title)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        return gr.update(choices=conversation_choices(who), value=conv), ""

    def delete_conversation(conv, client, request: gr.Request):
        who = owner(request, client)
        if not conv or not who:
            raise gr.Error("Open a saved conversation first, then delete it.")
        try:
            conversations.delete(who, conv)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        return ([], {}, SOURCES_PLACEHOLDER, None, gr.update(choices=conversation_choices(who), value=None))

    def export_conversation(conv, client, request: gr.Request):
        import tempfile

        who = owner(request, client)
        if not conv or not who:
            raise gr.Error("Open a saved conversation first, then export it.")
        try:
            saved = conversations.get(who, conv)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        name = re.sub(r"[^\w-]+", "-", saved["title"]).strip("-")[:60] or "conversation"
        path = Path(tempfile.mkdtemp(prefix="cimic-export-")) / f"{name}.md"
        path.write_text(markdown(saved), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    # ---- instructors' tabs ---------------------------------------------------------------------
    def review(user=None):
        return render_feedback(feedback.list("down"))

    def start_eval(datasets, backend, size, user=None):
        run_id = evals.start(list(datasets or []), backend, int(size) if size else None, user.name)
        return f"Evaluation {run_id} started."

    def open_tab(request: gr.Request):
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

    def open_report(run_id, user=None):
        evals.get(run_id or "")
        src = f"api/evals/{html.escape(run_id)}/report"
        return f'<iframe id="eval-report-frame" src="{src}" title="evaluation report" style="width:100%;height:900px;border:0"></iframe>'

    def compare_runs(run_id, earlier, user=None):
        return render_comparison(evals.compare(run_id or "", earlier or ""))

    def upload_documents(files, title, author, publisher, date, kind, replace, user=None):
        if not files:
            raise gr.Error("Drop one or more files first (txt, md, pdf, docx, html).")
        fields = {"author": author, "publisher": publisher, "date": date, "kind": kind}
        if len(files) == 1:
            fields["title"] = title  # one title cannot name several files: theirs come from their own metadata
        lines = []
        for f in files:
            path = Path(f if isinstance(f, str) else f.name)
            try:
                job = library.upload(path.name, path.read_bytes(), {k: v for k, v in fields.items() if v}, bool(replace), user.name)
                lines.append(f"- {path.name}: checked, queued for indexing")
            except AssistantError as exc:
                lines.append(f"- {path.name}: refused: {exc.message}")
        return "\n".join(lines), None

    def follow_documents(known, request: gr.Request):
        """Every second while the tab is open: the progress, and the table and picker when a job ended."""
        if not instructor(request):
            return gr.update(), gr.update(), gr.update(), known
        status = library.status()
        ended = [j["id"] for j in status["recent"]]
        if ended == known:
            return render_jobs(status), gr.update(), gr.update(), known
        listing = library.documents()
        choices = [(f"{d['title']} ({d['file']})", d["doc_id"]) for d in listing["documents"] if d["editable"]]
        return render_jobs(status), render_documents(listing), gr.update(choices=choices), ended

    def preview_document(doc_id, user=None):
        if not doc_id:
            return "", "", "", "", "", ""
        doc = library.document(doc_id)
        return render_chunks(doc), doc["title"], doc.get("author") or "", doc.get("publisher") or "", doc.get("date") or "", doc["kind"]

    def save_document(doc_id, title, author, publisher, date, kind, user=None):
        if not doc_id:
            raise gr.Error("Pick a document first.")
        library.edit(doc_id, {"title": title, "author": author, "publisher": publisher, "date": date, "kind": kind}, user.name)
        return "Saved; the document is being re-indexed."

    def delete_document(doc_id, user=None):
        if not doc_id:
            raise gr.Error("Pick a document first.")
        library.delete(doc_id, user.name)
        return "Deleted; its chunks are leaving the index and its file goes to knowledge/.trash/."

    def practice_topics():
        return gr.update(choices=[(f"{t['label']} ({t['questions']})", t["topic"]) for t in tutor.topics()])

    def practice_owner(request, client) -> str:
        who = owner(request, client)
        if not who:
            raise gr.Error("Practice is kept per trainee: reload the page so that it can keep an id in this browser.")
        return who

    def start_practice(topic, length, client, again, request: gr.Request):
        try:
            who = practice_owner(request, client)
            started = tutor.start(who, topic, int(length) if length else None, again or None)
        except AssistantError as exc:
            raise gr.Error(exc.message)
        return (started["session_id"], render_practice_question(started["question"]), "", "", "", gr.update(visible=False),
                [], gr.update(interactive=True), gr.update(interactive=True))

    def answer_practice(session, text, client, give_up, request: gr.Request):
        if not session:
            raise gr.Error("Start a practice session first.")
        try:
            who = practice_owner(request, client)
            result = tutor.answer(who, session, text, give_up=give_up)
            progress = render_progress(tutor.progress(who))
        except AssistantError as exc:
            raise gr.Error(exc.message)
        summary = result["summary"]
        missed = [m["id"] for m in summary["missed"]] if summary else []
        done = result["next"] is None
        return (render_graded(result), render_practice_question(result["next"]), "", render_summary(summary),
                gr.update(visible=bool(missed)), missed, progress,
                gr.update(interactive=not done), gr.update(interactive=not done))

    def start_new(topic, length, client, request: gr.Request):
        return start_practice(topic, length, client, None, request)

    def check_answer(session, text, client, request: gr.Request):
        return answer_practice(session, text, client, False, request)

    def give_up(session, text, client, request: gr.Request):
        return answer_practice(session, text, client, True, request)

    def show_progress(client, request: gr.Request):
        who = owner(request, client)
        return render_progress(tutor.progress(who)) if who else ""

    def class_view(user=None):
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="cimic-class-")) / "practice-class.csv"
        path.write_text(tutor.class_csv(), encoding="utf-8")
        return render_class(tutor.class_view()), gr.update(value=str(path), visible=True)

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

    instructor_tabs: list = []
    has_list = conversations is not None and not embed  # the side list of the user's conversations

    def chat_panel():
        answers = gr.State({})
        conv = gr.State(None)
        client = gr.BrowserState(None, storage_key="cimic-client")
        listed = None
        with gr.Row():
            if has_list:
                with gr.Column(scale=1, min_width=200, elem_id="conversations-column"):
                    new = gr.Button("New conversation", elem_id="new-conversation")
                    listed = gr.Radio([], label="Your conversations", elem_id="conversations")
                    title = gr.Textbox(label="Rename to", elem_id="conversation-title", max_lines=1)
                    with gr.Row():
                        rename = gr.Button("Rename", size="sm", elem_id="conversation-rename")
                        remove = gr.Button("Delete", size="sm", variant="stop", elem_id="conversation-delete")
                    export = gr.Button("Export as Markdown", size="sm", elem_id="conversation-export")
                    exported = gr.File(label="Markdown export", visible=False, elem_id="conversation-file")
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=420 if embed else 480, sanitize_html=True,
                                  elem_id="chat", feedback_options=("Like", "Dislike"), buttons=["copy", "copy_all"])
                box = gr.Textbox(label="Your question", placeholder="e.g. What was Operation Rescript?", elem_id="question")
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("Clear", elem_id="clear")
                comment = gr.Textbox(label="Comment with your thumbs up or down (optional)", elem_id="comment", max_lines=3)
                status = gr.Markdown(elem_id="feedback-status")
                if not embed:
                    gr.Examples(EXAMPLES, inputs=box)
            with gr.Column(scale=2, elem_id="sources-column"):
                sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="sources")
        shown = listed if listed is not None else gr.State(None)
        for trigger in (send.click, box.submit):
            trigger(respond, [box, chat, answers, conv, client], [chat, sources, box, answers, conv, shown])
        reset = [chat, answers, sources, conv, shown, box]
        clear.click(new_conversation, None, reset)
        chat.clear(new_conversation, None, reset)
        chat.like(rate, [answers, comment], [status, comment])
        if listed is not None:
            new.click(new_conversation, None, reset)
            listed.input(open_conversation, [listed, client], [chat, answers, sources, conv, box])
            rename.click(rename_conversation, [conv, title, client], [listed, title])
            remove.click(delete_conversation, [conv, client], [chat, answers, sources, conv, listed])
            export.click(export_conversation, [conv, client], exported)
        return client, shown

    with gr.Blocks(title="CIMIC doctrine assistant", fill_height=embed) as demo:
        if embed:
            client, shown = chat_panel()
            demo.load(on_load, client, [client, shown])
            return demo
        gr.Markdown("## CIMIC doctrine assistant\nEvery sentence of an answer cites the doctrine passage it comes from. "
                    "[REST API](/docs)")
        with gr.Tab("Ask"):
            client, shown = chat_panel()
        if tutor is not None:
            with gr.Tab("Practice") as practice_tab:
                gr.Markdown("Practise on questions drawn from the sources, one at a time. Every grade comes with the "
                            "passage that justifies it; the questions you miss come back sooner.")
                with gr.Row():
                    p_topic = gr.Dropdown([], value="everything", label="Topic", elem_id="practice-topic")
                    p_length = gr.Number(5, precision=0, minimum=1, maximum=20, label="Questions", elem_id="practice-length")
                    p_start = gr.Button("Start practice", variant="primary", elem_id="practice-start")
                p_session, p_missed = gr.State(None), gr.State([])
                p_question = gr.HTML(elem_id="practice-question")
                p_answer = gr.Textbox(label="Your answer", lines=3, elem_id="practice-answer")
                with gr.Row():
                    p_submit = gr.Button("Check my answer", variant="primary", elem_id="practice-submit", interactive=False)
                    p_giveup = gr.Button("Show answer", elem_id="practice-giveup", interactive=False)
                p_result = gr.HTML(elem_id="practice-result")
                p_summary = gr.HTML(elem_id="practice-summary")
                p_again = gr.Button("Practise these again", visible=False, elem_id="practice-again")
                gr.Markdown("### Your progress")
                p_progress = gr.HTML(elem_id="practice-progress")
                with gr.Column(visible=False) as class_box:
                    gr.Markdown("### The class (instructors)")
                    p_class_btn = gr.Button("Show the class", elem_id="practice-class-load")
                    p_class = gr.HTML(elem_id="practice-class")
                    p_csv = gr.File(label="CSV export", visible=False, elem_id="practice-class-csv")
                instructor_tabs.append(class_box)
                started_out = [p_session, p_question, p_result, p_summary, p_answer, p_again, p_missed, p_submit, p_giveup]
                p_start.click(start_new, [p_topic, p_length, client], started_out)
                p_again.click(start_practice, [p_topic, p_length, client, p_missed], started_out)
                answered_out = [p_result, p_question, p_answer, p_summary, p_again, p_missed, p_progress, p_submit, p_giveup]
                p_submit.click(check_answer, [p_session, p_answer, client], answered_out)
                p_answer.submit(check_answer, [p_session, p_answer, client], answered_out)
                p_giveup.click(give_up, [p_session, p_answer, client], answered_out)
                practice_tab.select(practice_topics, None, p_topic)
                practice_tab.select(show_progress, client, p_progress)
                p_class_btn.click(guarded("the class view", class_view), None, [p_class, p_csv])
        with gr.Tab("Glossary"):
            q = gr.Textbox(label="Term, acronym or word of a definition", elem_id="glossary-query")
            found = gr.HTML()
            q.submit(lookup, q, found)
            gr.Button("Find").click(lookup, q, found)
        with gr.Tab("Review", visible=False) as review_tab:
            gr.Markdown("Thumbs-down answers, newest first.")
            shown_review = gr.HTML(elem_id="review")
            gr.Button("Show thumbs-down answers", elem_id="review-load").click(guarded("the review", review), None, shown_review)
        instructor_tabs.append(review_tab)
        if evals is not None:
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
                start.click(guarded("an evaluation", start_eval), [datasets, backend, size], started)
                # the runs table follows the runs every 2 s, for instructors who opened the tab only
                timer = gr.Timer(2.0, active=False)
                tab.select(open_tab, None, timer)
                timer.tick(follow_evals, known, [runs, pick, earlier, known], concurrency_limit=None)
                show.click(guarded("an evaluation", open_report), pick, report)
                versus.click(guarded("an evaluation", compare_runs), [pick, earlier], compared)
            instructor_tabs.append(tab)
        if library is not None:
            with gr.Tab("Documents", visible=False) as docs_tab:
                gr.Markdown("Upload documents to the knowledge folder; they are indexed in the background and "
                            "answered from as soon as their job ends. Deleted documents' files go to `knowledge/.trash/`.")
                files = gr.File(file_count="multiple", file_types=DOCUMENT_TYPES, label="Drop files here (txt, md, pdf, docx, html)",
                                elem_id="doc-files")
                with gr.Row():
                    d_title = gr.Textbox(label="Title (one file; empty: the file's own)", elem_id="doc-title", max_lines=1)
                    d_author = gr.Textbox(label="Author", elem_id="doc-author", max_lines=1)
                    d_publisher = gr.Textbox(label="Publisher", elem_id="doc-publisher", max_lines=1)
                    d_date = gr.Textbox(label="Date", elem_id="doc-date", max_lines=1)
                    d_kind = gr.Textbox(label="Kind", placeholder="e.g. doctrine, report", elem_id="doc-kind", max_lines=1)
                d_replace = gr.Checkbox(label="Replace a document of the same name", elem_id="doc-replace")
                upload = gr.Button("Upload and index", variant="primary", elem_id="doc-upload")
                uploaded = gr.Markdown(elem_id="doc-upload-status")
                progress = gr.HTML(elem_id="index-status")
                table = gr.HTML(elem_id="documents")
                gr.Markdown("### Edit, delete or preview a document")
                pick_doc = gr.Dropdown([], label="Document", elem_id="doc-pick")
                with gr.Row():
                    e_title = gr.Textbox(label="Title", elem_id="edit-title", max_lines=1)
                    e_author = gr.Textbox(label="Author", elem_id="edit-author", max_lines=1)
                    e_publisher = gr.Textbox(label="Publisher", elem_id="edit-publisher", max_lines=1)
                    e_date = gr.Textbox(label="Date", elem_id="edit-date", max_lines=1)
                    e_kind = gr.Textbox(label="Kind", elem_id="edit-kind", max_lines=1)
                with gr.Row():
                    save = gr.Button("Save changes", elem_id="doc-save")
                    drop = gr.Button("Delete document", variant="stop", elem_id="doc-delete")
                edited = gr.Markdown(elem_id="doc-edit-status")
                chunks = gr.HTML(elem_id="doc-preview")
                seen = gr.State(None)
                upload.click(guarded("managing documents", upload_documents),
                             [files, d_title, d_author, d_publisher, d_date, d_kind, d_replace], [uploaded, files])
                doc_timer = gr.Timer(1.0, active=False)
                docs_tab.select(open_tab, None, doc_timer)
                doc_timer.tick(follow_documents, seen, [progress, table, pick_doc, seen], concurrency_limit=None)
                pick_doc.input(guarded("managing documents", preview_document), pick_doc,
                               [chunks, e_title, e_author, e_publisher, e_date, e_kind])
                save.click(guarded("managing documents", save_document),
                           [pick_doc, e_title, e_author, e_publisher, e_date, e_kind], edited)
                drop.click(guarded("managing documents", delete_document), pick_doc, edited)
            instructor_tabs.append(docs_tab)
        demo.load(on_load, client, [client, shown, *instructor_tabs])
    return demo
