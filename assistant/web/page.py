"""The Gradio chat page: streaming answers, clickable [n] citations, a source panel, a grounding badge,
example questions, thumbs up/down with a comment, the user's saved conversations, a glossary tab, and for
instructors only the review, evaluation and documents tabs; the embed view is the chat and sources
alone. Built by `build_ui(...)` from one builder per tab (`web/tabs/`); nothing at import.

Each answer keeps its own sources: its [n] marks link to its own passages in the source panel (every
answer of the conversation is there, newest first), and under each answer a collapsed list of its
sources serves narrow screens, where the panel is hidden. The HTML itself is built in `web/views.py`.
Errors the chain raises for bad input are shown with their own message (`gr.Error`); an instructor's
tab is shown to instructors only, and its actions check the role again on the server.
"""

import uuid


def build_ui(assistant, glossary_entries, feedback, auth=None, embed: bool = False, evals=None, library=None,
             conversations=None, tutor=None, chat=None, settings=None):
    """The chat page; `embed=True` gives the view for intranet iframes: chat and sources, no tabs. With
    `evals` (`evaluation.runs.EvalRuns`) an Evaluation tab and with `library` (`ingest.library.Library`) a Documents
    tab, both shown to instructors only; with `conversations` (`conversations.ConversationStore`) every
    question and answer is saved for its user and the page lists the user's conversations (`chat`, a
    `ChatService` shared with the API, when given); with `tutor` (`practice.tutor.Tutor`) a Practice tab,
    whose class view is for instructors. With `settings`, the files it offers (a conversation's export, the class
    CSV) are written in the data folder."""
    import gradio as gr

    from assistant.web.auth import Auth
    from assistant.web.chat_service import ChatService
    from assistant.web.tabs.chat import chat_panel, conversation_choices
    from assistant.web.tabs.common import Page
    from assistant.web.tabs.documents import documents_tab
    from assistant.web.tabs.evaluation import evaluation_tab
    from assistant.web.tabs.glossary import glossary_tab
    from assistant.web.tabs.practice import practice_tab
    from assistant.web.tabs.review import review_tab

    page = Page(assistant=assistant, glossary=glossary_entries, feedback=feedback, auth=auth or Auth(),
                chat=chat or ChatService(assistant, conversations), embed=embed, evals=evals, library=library, tutor=tutor,
                settings=settings)

    def on_load(client, request: gr.Request):
        """The browser's id (made on the first visit), the user's conversations, and the tabs this user may see."""
        client = client or uuid.uuid4().hex
        who = page.owner(request, client)
        tabs = gr.update(visible=page.instructor(request))
        listed = gr.update(choices=conversation_choices(page, who), value=None) if page.has_list else None
        return (client, listed) + (tabs,) * len(page.instructor_tabs)

    with gr.Blocks(title="CIMIC doctrine assistant", fill_height=embed) as demo:
        if embed:
            client, listed = chat_panel(page)
            demo.load(on_load, client, [client, listed])
            return demo
        gr.Markdown("## CIMIC doctrine assistant\nEvery sentence of an answer cites the doctrine passage it comes from. "
                    "[REST API](/docs)")
        with gr.Tab("Ask"):
            client, listed = chat_panel(page)
        if tutor is not None:
            practice_tab(page, client)
        glossary_tab(page)
        review_tab(page)
        if evals is not None:
            evaluation_tab(page)
        if library is not None:
            documents_tab(page)
        demo.load(on_load, client, [client, listed, *page.instructor_tabs])
    return demo
