"""The badge beside an answer tells two things apart: whether each sentence is backed by its source, and how
sure the assistant is that the sources answer the question at all; a refusal says it did not answer."""

from assistant.web.views import render_sources


def _answer(**kw):
    base = {"answer": "It was a UK operation [1].", "refused": False, "grounding": 1.0, "question": "q",
            "citations": [{"n": 1, "doc_id": "d", "title": "T", "section": "S", "text": "It was a UK operation.", "score": 0.5}],
            "unsupported": [], "gate": {"probability": 0.83, "threshold": 0.3}}
    return {**base, **kw}


def test_an_answer_shows_its_backing_and_how_sure_the_assistant_is():
    html = render_sources({"1": _answer()})
    assert "1 of 1 sentences backed by their source" in html and "sources answer this question: 83%" in html
    assert "grounding 1.00" not in html  # a quote matching its passage is not the same as answering the question


def test_a_dropped_sentence_is_counted_and_named():
    html = render_sources({"1": _answer(unsupported=["An invented sentence."])})
    assert "1 of 2 sentences backed" in html and "1 left out" in html


def test_a_partial_refusal_shows_its_passage_and_a_plain_refusal_none():
    partial = render_sources({"1": _answer(refused=True, partial="It was a UK operation. [1]")})
    assert "Not answered" in partial and 'class="source"' in partial
    plain = render_sources({"1": _answer(refused=True, citations=[])})
    assert "Not answered" in plain and "outside what the doctrine sources cover" in plain and 'class="source"' not in plain


def test_a_source_title_is_not_doubled_by_a_section_that_repeats_it():
    def head(title, section):
        c = {"n": 1, "doc_id": "d", "title": title, "section": section, "text": "It was a UK operation.", "score": 0.5}
        html = render_sources({"1": _answer(citations=[c])})
        return html.split("<b>", 1)[1].split("</b>")[0]

    title = "Civil-military cooperation during mass casualty events"
    assert head(title, title.upper()) == f"[1] {title}"
    assert head(title, f"{title} > Abstract") == f"[1] {title} — Abstract"
    assert head(title, "Examples > COVID-19 pandemic") == f"[1] {title} — Examples &gt; COVID-19 pandemic"
    assert head("T", "") == "[1] T"
