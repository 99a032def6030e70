"""The Gradio chat page: streaming answers, clickable [n] citations, a source panel, a grounding badge,
example questions, thumbs up/down with a comment, the user's saved conversations, a glossary tab, and for
instructors only the review, evaluation and documents tabs; the embed view is the chat and sources
alone. Built by `build_ui(...)`; nothing at import.

Each answer keeps its own sources: its [n] marks link to its own passages in the source panel (every
answer of the conversation is there, newest first), and under each answer a collapsed list of its
sources serves narrow screens, where the panel is hidden. The HTML itself is built in `web/views.py`.
Errors the chain raises for bad input are shown with their own message (`gr.Error`); an instructor's
tab is shown to instructors only, and its actions check the role again on the server.
"""

import html
import re
import uuid
from pathlib import Path

from assistant.web.views import (SOURCES_PLACEHOLDER, chat_of, history_of, render_answer, render_chunks, render_class,
                              render_comparison, render_documents, render_feedback, render_graded, render_jobs,
                              render_practice_question, render_progress, render_runs, render_sources, render_summary,
                              render_tutor_feedback)

EXAMPLES = ["What was Operation Rescript?", "What is CMI?", "What are the seven baseline requirements for civil preparedness?",
            "Which lessons does Ukraine's experience offer the EU?"]
DOCUMENT_TYPES = [".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"]


def build_ui(assistant, glossary_entries, feedback, auth=None, embed: bool = False, evals=None, library=None,
             conversations=None, tutor=None):
    """The chat page; `embed=True` gives the view for intranet iframes: chat and sources, no tabs. With
    `evals` (`evaluation.runs.EvalRuns`) an Evaluation tab and with `library` (`ingest.library.Library`) a Documents
    tab, both shown to instructors only; with `conversations` (`conversations.ConversationStore`) every
    question and answer is saved for its user and the page lists the user's conversations; with `tutor`
    (`practice.tutor.Tutor`) a Practice tab, whose class view is for instructors."""
    import gradio as gr

    from assistant.web.auth import Auth
    from assistant.userdata.conversations import markdown, owner_of
    from assistant.errors import AssistantError
    from assistant.userdata.feedback import Feedback
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

    def respond(message, chat, answers, conv, client, request: gr.Request):
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
                library.upload(path.name, path.read_bytes(), {k: v for k, v in fields.items() if v}, bool(replace), user.name)
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

    def written_feedback(session, client, request: gr.Request):
        if not session:
            raise gr.Error("Start a practice session first.")
        try:
            return render_tutor_feedback(tutor.feedback(practice_owner(request, client), session))
        except AssistantError as exc:
            raise gr.Error(exc.message)

    def show_progress(client, request: gr.Request):
        who = owner(request, client)
        return render_progress(tutor.progress(who)) if who else ""

    def class_view(user=None):
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="cimic-class-")) / "practice-class.csv"
        view = tutor.class_view()
        path.write_text(tutor.class_csv(view), encoding="utf-8")
        return render_class(view), gr.update(value=str(path), visible=True)

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
                coached = tutor.coach is not None
                p_coach = gr.Button("Tutor's feedback on my answer (chat model)", elem_id="practice-feedback",
                                    visible=coached, interactive=False)
                p_feedback = gr.HTML(elem_id="practice-feedback-box")
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
                def feedback_reset(enabled: bool):  # no feedback shown; its button enabled only after a grade
                    return (lambda: ("", gr.update(interactive=enabled)), None, [p_feedback, p_coach])

                p_start.click(start_new, [p_topic, p_length, client], started_out).success(*feedback_reset(False))
                p_again.click(start_practice, [p_topic, p_length, client, p_missed], started_out).success(*feedback_reset(False))
                answered_out = [p_result, p_question, p_answer, p_summary, p_again, p_missed, p_progress, p_submit, p_giveup]
                p_submit.click(check_answer, [p_session, p_answer, client], answered_out).success(*feedback_reset(coached))
                p_answer.submit(check_answer, [p_session, p_answer, client], answered_out).success(*feedback_reset(coached))
                p_giveup.click(give_up, [p_session, p_answer, client], answered_out).success(*feedback_reset(coached))
                p_coach.click(lambda: gr.update(interactive=False), None, p_coach).then(
                    written_feedback, [p_session, client], p_feedback)
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
