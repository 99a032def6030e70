"""The server: builds the assistant from settings and serves the chat page, the embed view and the REST
API on one port.

Nothing is built at import: `create_app(settings)` loads the index and the model once, logs what it
loaded, and returns the FastAPI app with the Gradio page at "/" and the embed view at "/embed".
"""

from __future__ import annotations

import logging

log = logging.getLogger("cimic")


def create_app(settings=None, assistant=None):
    import gradio as gr

    from assistant.web.api import build_api
    from assistant.web.auth import Auth
    from assistant.web.chat_service import ChatService
    from assistant.answering.pipeline import build_assistant
    from assistant.config import Settings
    from assistant.userdata.conversations import ConversationStore
    from assistant.evaluation.runs import EvalRuns
    from assistant.userdata.feedback import FeedbackStore
    from assistant.ingest.glossary import GLOSSARY, load_glossary
    from assistant.ingest.library import Library
    from assistant.practice.coaching import Coach
    from assistant.practice.grader import Grader
    from assistant.practice.questions import QuestionBank
    from assistant.practice.tutor import Tutor
    from assistant.web.page import build_ui
    from assistant.web.views import CSS
    from assistant.language import named_things

    settings = settings or Settings()
    auth = Auth.from_settings(settings)
    feedback = FeedbackStore.from_settings(settings)
    assistant = assistant or build_assistant(settings)
    assistant.retriever.embedder.embed(["warm up"])
    named_things("warm up")  # spaCy's model, loaded once before the first question
    glossary_path = settings.knowledge_dir / GLOSSARY
    entries = load_glossary(glossary_path) if glossary_path.exists() else []
    log.warning("loaded index (%d chunks) from %s; back-end %s; %d glossary entries; feedback in %s (spool %s); login %s",
                assistant.retriever.count(), settings.chroma_url or settings.store_dir, assistant.backend, len(entries),
                feedback.safe_url, feedback.spool_path, "required" if auth.enabled else "off")
    evals = EvalRuns(settings, assistant)
    library = Library(settings, assistant)
    conversations = ConversationStore(settings.feedback_db)
    coach = Coach(assistant.chat_model, assistant.scorer) if assistant.chat_model is not None else None
    tutor = Tutor(QuestionBank(assistant.retriever), settings.feedback_db, coach, Grader(assistant.chat_model if settings.practice_model_reading else None))
    chat = ChatService(assistant, conversations)  # one for the API, the page and the embed view
    api = build_api(assistant, entries, settings, feedback, auth, evals, library, conversations, tutor, chat=chat)
    page = dict(css=CSS, max_file_size=int(settings.max_file_mb * 2**20), footer_links=["settings"])
    api = gr.mount_gradio_app(api, build_ui(assistant, entries, feedback, auth, embed=True, conversations=conversations,
                                            chat=chat, settings=settings), path="/embed", **page)
    return gr.mount_gradio_app(api, build_ui(assistant, entries, feedback, auth, evals=evals, library=library,
                                             conversations=conversations, tutor=tutor, chat=chat, settings=settings),
                               path="/", **page)


def serve(settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # the address it listens on is a setting the app reads too (the allowed hosts of an anonymous server)
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
