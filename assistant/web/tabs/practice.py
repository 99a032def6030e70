"""The Practice tab: a topic and a length, questions one at a time, each answer graded at once with its
passage, the tutor's feedback (with a chat model), the session's summary and "practise these again",
the trainee's progress, and the class view for instructors (`practice/tutor.py`)."""

import html

import gradio as gr

from assistant.userdata.fields import check_fields, check_text
from assistant.web.tabs.common import Page, shown
from assistant.web.views import (render_class, render_graded, render_practice_question, render_progress, render_summary,
                                 render_tutor_feedback)


def graded_html(result: dict) -> str:
    """The grade with its passage; where a question still to come is drawn from the same passage, the passage is
    held back (the tutor sends none) and the note says why."""
    if result.get("passage_held_back") is None:
        return render_graded(result)
    shown_part = render_graded({**result, "citations": [{**result["citations"][0], "text": ""}]})
    passage_at = shown_part.rindex('<div class="source practice-passage">')
    return shown_part[:passage_at] + f'<p class="practice-held-back"><small>{html.escape(result["passage_held_back"])}</small></p>'


def practice_tab(page: Page, client) -> None:
    """Built inside the page's Blocks; `client` is the chat's browser id (the owner without a login)."""
    tutor = page.tutor

    def practice_topics():
        return gr.update(choices=[(f"{t['label']} ({t['questions']})", t["topic"]) for t in tutor.topics()])

    def practice_owner(request, client) -> str:
        who = page.owner(request, client)
        if not who:
            raise gr.Error("Practice is kept per trainee: reload the page so that it can keep an id in this browser.")
        return who

    def start_practice(topic, length, client, again, request: gr.Request):
        with shown():
            check_fields({"topic": topic, "questions to practise again": again or []})
            who = practice_owner(request, client)
            started = tutor.start(who, topic, int(length) if length else None, again or None)
        return (started["session_id"], render_practice_question(started["question"]), "", "", "", gr.update(visible=False),
                [], gr.update(interactive=True), gr.update(interactive=True))

    def answer_practice(session, text, client, give_up, request: gr.Request):
        if not session:
            raise gr.Error("Start a practice session first.")
        with shown():
            check_text("answer", text)
            who = practice_owner(request, client)
            result = tutor.answer(who, session, text, give_up=give_up)
            progress = render_progress(tutor.progress(who))
        summary = result["summary"]
        missed = [m["id"] for m in summary["missed"]] if summary else []
        done = result["next"] is None
        return (graded_html(result), render_practice_question(result["next"]), "", render_summary(summary),
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
        with shown():
            return render_tutor_feedback(tutor.feedback(practice_owner(request, client), session))

    def show_progress(client, request: gr.Request):
        who = page.owner(request, client)
        return render_progress(tutor.progress(who)) if who else ""

    def class_view(user=None):
        view = tutor.class_view()
        return render_class(view), gr.update(value=page.download("practice-class.csv", tutor.class_csv(view)), visible=True)

    with gr.Tab("Practice") as practice:
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
        page.instructor_tabs.append(class_box)
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
        practice.select(practice_topics, None, p_topic)
        practice.select(show_progress, client, p_progress)
        p_class_btn.click(page.guarded("the class view", class_view), None, [p_class, p_csv])
