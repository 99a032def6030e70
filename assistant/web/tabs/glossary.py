"""The Glossary tab: a term found by name, acronym, keyword or a word of its definition."""

import html

import gradio as gr

from assistant.ingest.glossary import search_glossary
from assistant.web.tabs.common import Page


def glossary_tab(page: Page) -> None:
    def lookup(q):
        rows = search_glossary(page.glossary, q or "")
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

    with gr.Tab("Glossary"):
        q = gr.Textbox(label="Term, acronym or word of a definition", elem_id="glossary-query")
        found = gr.HTML()
        q.submit(lookup, q, found)
        gr.Button("Find").click(lookup, q, found)
