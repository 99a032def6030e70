"""The Gradio chat page: streaming answers, clickable [n] citations, a source panel, a grounding badge,
example questions and a glossary tab. Built by `build_ui(assistant, glossary)`; nothing at import.

Errors the chain raises for bad input are shown with their own message (`gr.Error`). Every text that
comes from a document or a user is HTML-escaped before it is shown.
"""

from __future__ import annotations

import html
import re

EXAMPLES = ["What was Operation Rescript?", "What is CMI?", "What are the seven baseline requirements for civil preparedness?",
            "Which lessons does Ukraine's experience offer the EU?"]


def render_answer(answer) -> str:
    text = html.escape(answer.answer)
    text = re.sub(r"\[(\d+)\]", lambda m: f'<a href="#src-{m.group(1)}" class="cite">[{m.group(1)}]</a>', text)
    if answer.notice:
        text += f"\n\n<em>Notice: {html.escape(answer.notice)}</em>"
    return text


def render_sources(answer) -> str:
    if answer.refused:
        return "<p>No sources: the question is outside what the doctrine sources cover.</p>"
    total = len(answer.unsupported) + len(re.findall(r"[.!?”](?:\s*\[\d+\])+", answer.answer))
    supported = total - len(answer.unsupported)
    parts = [f'<p class="badge">{supported} of {total} sentences supported (grounding {answer.grounding:.2f})</p>']
    words = {w.lower() for w in re.findall(r"\w{4,}", re.sub(r"\[\d+\]", "", answer.answer))}
    for c in answer.citations:
        where = html.escape(c.title) + (f" — {html.escape(c.section)}" if c.section else "") + (f", p. {c.page}" if c.page else "")
        body = html.escape(c.text)
        body = re.sub(r"\b(\w{4,})\b", lambda m: f"<mark>{m.group(1)}</mark>" if m.group(1).lower() in words else m.group(1), body)
        parts.append(f'<div id="src-{c.n}" class="source"><b>[{c.n}] {where}</b><p>{body}</p></div>')
    return "\n".join(parts)


def build_ui(assistant, glossary_entries):
    import gradio as gr

    from assistant.errors import AssistantError
    from assistant.ingest.glossary import search_glossary

    def respond(message, chat):
        chat = list(chat or [])
        history = []
        pending = None
        for m in chat:
            if m["role"] == "user":
                pending = m["content"] if isinstance(m["content"], str) else str(m["content"])
            elif pending is not None:
                history.append([pending, re.sub(r"<[^>]+>", "", str(m["content"]))])
                pending = None
        try:
            events = assistant.ask_stream(message, history)
            chat.append({"role": "user", "content": message})
            chat.append({"role": "assistant", "content": ""})
            draft = ""
            for event in events:
                if event["type"] == "token":
                    draft += event["text"]
                    chat[-1]["content"] = html.escape(draft)
                    yield chat, gr.update(), ""
                else:
                    answer = event["answer"]
                    chat[-1]["content"] = render_answer(answer)
                    yield chat, render_sources(answer), ""
        except AssistantError as exc:
            raise gr.Error(exc.message)

    def lookup(q):
        rows = search_glossary(glossary_entries, q or "")
        if not rows:
            return f"No glossary entry matches “{html.escape(q)}”."
        out = []
        for e in rows[:10]:
            block = f"<h3>{html.escape(e.term)}</h3><p>{html.escape(e.definition)}</p>"
            if e.nato_agreed:
                block += f"<p><b>NATO agreed:</b> “{html.escape(e.nato_agreed)}”</p>"
            if e.sources:
                block += "<p><small>Sources: " + "; ".join(html.escape(s) for s in e.sources) + "</small></p>"
            out.append(block)
        return "\n".join(out)

    with gr.Blocks(title="CIMIC doctrine assistant") as demo:
        gr.Markdown("## CIMIC doctrine assistant\nEvery sentence of an answer cites the doctrine passage it comes from.")
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", height=480, sanitize_html=True)
                    box = gr.Textbox(label="Your question", placeholder="e.g. What was Operation Rescript?", elem_id="question")
                    with gr.Row():
                        send = gr.Button("Ask", variant="primary")
                        clear = gr.Button("Clear")
                    gr.Examples(EXAMPLES, inputs=box)
                with gr.Column(scale=2):
                    sources = gr.HTML("<p>Sources of the latest answer appear here.</p>", elem_id="sources")
            send.click(respond, [box, chat], [chat, sources, box])
            box.submit(respond, [box, chat], [chat, sources, box])
            clear.click(lambda: ([], "<p>Sources of the latest answer appear here.</p>", ""), None, [chat, sources, box])
        with gr.Tab("Glossary"):
            q = gr.Textbox(label="Term, acronym or keyword")
            found = gr.HTML()
            q.submit(lookup, q, found)
            gr.Button("Find").click(lookup, q, found)
    return demo
