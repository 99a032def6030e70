"""The Review tab (instructors): the thumbs-down answers, newest first."""

import gradio as gr

from assistant.web.tabs.common import Page
from assistant.web.views import render_feedback


def review_tab(page: Page) -> None:
    def review(user=None):
        return render_feedback(page.feedback.list("down"))

    with gr.Tab("Review", visible=False) as tab:
        gr.Markdown("Thumbs-down answers, newest first.")
        shown_review = gr.HTML(elem_id="review")
        gr.Button("Show thumbs-down answers", elem_id="review-load").click(page.guarded("the review", review), None, shown_review)
    page.instructor_tabs.append(tab)
