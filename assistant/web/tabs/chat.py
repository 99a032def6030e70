"""The chat: streaming answers with clickable [n] citations, the source panel, thumbs up or down with a
comment, and (not in the embed view) the user's saved conversations: open, new, rename, delete, export
as Markdown. Questions are asked and turns saved through the one `ChatService`, as the API does."""

import html
import re

import gradio as gr

from assistant.userdata.conversations import markdown
from assistant.userdata.feedback import Feedback
from assistant.web.tabs.common import Page, shown
from assistant.web.views import SOURCES_PLACEHOLDER, chat_of, history_of, render_answer, render_sources

EXAMPLES = ["What was Operation Rescript?", "What is CMI?", "What are the seven baseline requirements for civil preparedness?",
            "Which lessons does Ukraine's experience offer the EU?"]


def conversation_choices(page: Page, who) -> list[tuple[str, str]]:
    return [(f"{c['title']} ({c['updated_at'][:10]})", c["id"]) for c in page.chat.list(who)]


def chat_panel(page: Page):
    """The chat and its source panel (and the conversations column); returns the browser's id component
    and the conversations list (a State when there is no list), which the page's load fills."""
    chat_service, has_list = page.chat, page.has_list

    def respond(message, chat, answers, conv, client, request: gr.Request):
        chat = list(chat or [])
        answers = dict(answers or {})
        with shown():
            who = page.owner(request, client)
            events = chat_service.stream(message, history_of(answers), who, conv)
            first = next(events, None)  # bad input fails here, before the question is shown
            chat.append({"role": "user", "content": html.escape(message)})
            chat.append({"role": "assistant", "content": ""})
            draft = ""
            for event in _chain(first, events):
                if event["type"] == "token":
                    draft += event["text"]
                    chat[-1]["content"] = html.escape(draft)
                    yield chat, gr.update(), "", answers, conv, gr.update()
                else:
                    answer = event["answer"]
                    turn = len(chat) - 1
                    chat[-1]["content"] = render_answer(answer, turn)
                    answers[str(turn)] = answer
                    listed = gr.update()
                    if event["conversation_id"]:
                        conv = event["conversation_id"]
                        listed = gr.update(choices=conversation_choices(page, who), value=conv) if has_list else None
                    yield chat, render_sources(answers), "", answers, conv, listed

    def rate(answers, comment, data: gr.LikeData, request: gr.Request):
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answer = (answers or {}).get(str(index))
        if answer is None:
            return "Rate an answer of this conversation.", comment
        user = page.user_of(request)
        entry = Feedback.on_answer(answer, "up" if data.liked is True else "down", comment, user.name if user else "")
        with shown():
            outcome = page.feedback.add(entry)
        thanks = "Thank you: your feedback was stored." if outcome == "stored" else \
            "Thank you: the feedback database is busy, your feedback is queued and will be stored."
        return thanks, ""

    def open_conversation(conv, client, request: gr.Request):
        who = page.owner(request, client)
        if not conv or not who:
            return gr.update(), gr.update(), gr.update(), conv, ""
        with shown():
            chat, answers = chat_of(chat_service.get(who, conv)["turns"])
        return chat, answers, render_sources(answers), conv, ""

    def new_conversation():
        return [], {}, SOURCES_PLACEHOLDER, None, gr.update(value=None) if has_list else None, ""

    def saved_owner(conv, client, request, what: str) -> str:
        who = page.owner(request, client)
        if not conv or not who:
            raise gr.Error(f"Open a saved conversation first, then {what} it.")
        return who

    def rename_conversation(conv, title, client, request: gr.Request):
        who = saved_owner(conv, client, request, "rename")
        with shown():
            chat_service.rename(who, conv, title)
        return gr.update(choices=conversation_choices(page, who), value=conv), ""

    def delete_conversation(conv, client, request: gr.Request):
        who = saved_owner(conv, client, request, "delete")
        with shown():
            chat_service.delete(who, conv)
        return ([], {}, SOURCES_PLACEHOLDER, None, gr.update(choices=conversation_choices(page, who), value=None))

    def export_conversation(conv, client, request: gr.Request):
        who = saved_owner(conv, client, request, "export")
        with shown():
            saved = chat_service.get(who, conv)
        text = markdown(saved)
        name = re.sub(r"[^\w-]+", "-", saved["title"]).strip("-")[:60] or "conversation"
        return gr.update(value=page.download(f"{name}.md", text), visible=True)

    answers = gr.State({})
    conv = gr.State(None)
    client = gr.BrowserState(None, storage_key="cimic-client")
    listed = None
    embed = page.embed
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
            sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="sources", js_on_load=CITE_CLICK)
    shown_list = listed if listed is not None else gr.State(None)
    for trigger in (send.click, box.submit):
        trigger(respond, [box, chat, answers, conv, client], [chat, sources, box, answers, conv, shown_list])
    reset = [chat, answers, sources, conv, shown_list, box]
    clear.click(new_conversation, None, reset)
    chat.clear(new_conversation, None, reset)
    chat.like(rate, [answers, comment], [status, comment])
    if listed is not None:
        new.click(new_conversation, None, reset)
        listed.input(open_conversation, [listed, client], [chat, answers, sources, conv, box])
        rename.click(rename_conversation, [conv, title, client], [listed, title])
        remove.click(delete_conversation, [conv, client], [chat, answers, sources, conv, listed])
        export.click(export_conversation, [conv, client], exported)
    return client, shown_list


# A click on [n] shows its passage in the source panel, which alone scrolls: the page and the chat stay where they
# were (followed as a plain link, the fragment scrolled the whole page to the passage and the chat out of view)
CITE_CLICK = """
if (!window.cimicCiteClicks) {
  window.cimicCiteClicks = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    const id = link ? (link.getAttribute('href') || '').replace(/^#/, '') : '';
    const target = id && document.getElementById(id);
    if (!target) return;
    event.preventDefault();
    const kept = [document.scrollingElement];
    for (let x = link.parentElement; x; x = x.parentElement) kept.push(x);
    const at = kept.map((x) => [x.scrollTop, x.scrollLeft]);
    location.hash = id;  // the passage becomes :target, outlined
    kept.forEach((x, i) => { x.scrollTop = at[i][0]; x.scrollLeft = at[i][1]; });
    for (let x = target.parentElement; x && !kept.includes(x); x = x.parentElement) {
      if (x.scrollHeight > x.clientHeight + 1) {
        x.scrollTop += target.getBoundingClientRect().top - x.getBoundingClientRect().top;
        break;
      }
    }
  }, true);
}
"""


def _chain(first, rest):
    if first:
        yield first
    yield from rest
