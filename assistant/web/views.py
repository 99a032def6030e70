"""The HTML the page shows, built from plain records: answers with their citations and sources, the
documents table and job progress, evaluation runs, practice questions and grades, progress and the
class view. Pure functions, no Gradio: `page.py` wires them to the page.

Every text that comes from a document or a user is escaped; a passage's Markdown is rendered with raw
HTML, links and images switched off, and the words that support a sentence (never stop words) marked.
"""

import html
import re

from assistant.answering.grounding import cited_sentences
from assistant.language import STOPWORDS, content_words, stem

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
    """"Title — Section, p. n"; a section path's leading heading that only repeats the title is left out."""
    parts = [x for x in (c.get("section") or "").split(" > ") if x.strip()]
    same = lambda x: " ".join(x.split()).casefold() == " ".join((c["title"] or "").split()).casefold()  # noqa: E731
    while parts and same(parts[0]):
        parts.pop(0)
    section = " > ".join(parts)
    return html.escape(c["title"]) + (f" — {html.escape(section)}" if section else "") + \
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
    """Two things a trainee must not confuse: whether each sentence is backed by its source (the support check),
    and how sure the assistant is that the sources answer this question at all (the gate's probability)."""
    sure = (answer.get("gate") or {}).get("probability")
    if answer["refused"]:
        if answer.get("partial"):
            return ('<p class="badge refused">Not answered: the sources do not hold what was asked. '
                    'The passage below is what they do say about it.</p>')
        return '<p class="badge refused">Not answered: the question is outside what the doctrine sources cover.</p>'
    supported = len(_cited(answer))
    total = supported + len(answer.get("unsupported") or [])
    backed = f"{supported} of {total} sentences backed by their source" + (
        f" ({total - supported} left out: no source backs them)" if total > supported else "")
    answers = "" if sure is None else (f'<br><span class="sure">How sure the assistant is that the sources answer this '
                                       f'question: {sure:.0%}</span>')
    return f'<p class="badge">{backed}{answers}</p>'


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
                     f'{_badge(a)}{_passages(a, f"a{turn}") if a["citations"] else ""}</section>')
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
    if result.get("graded_by"):
        parts.append(f'<p><small>Graded by the {html.escape(result["graded_by"])}.</small></p>')
    where = _where(c)
    parts.append(f'<div class="source practice-passage"><b>[1] {where}</b><p style="white-space:pre-wrap">{body}</p></div>')
    return "\n".join(parts)


def render_tutor_feedback(feedback: dict) -> str:
    """The tutor's one sentence, cited [1] (the passage shown with the grade), or why there is none."""
    if not feedback["text"]:
        return f'<p class="feedback-none" id="practice-feedback-text"><small>{html.escape(feedback["note"])}</small></p>'
    return (f'<p id="practice-feedback-text">{html.escape(feedback["text"])}</p>'
            f'<p><small>{html.escape(feedback["note"])}</small></p>')


def render_summary(summary: dict | None) -> str:
    if not summary:
        return ""
    out = [f'<h3 id="practice-score">Score: {summary["score"]:g} of {summary["answered"]} '
           f'({summary["correct"]} correct)</h3>']
    if summary["missed"]:
        out.append("<p>To practise again:</p><ul>")
        for m in summary["missed"]:
            where = _where(m["citations"][0]) if m["citations"] else ""
            out.append(f"<li>{html.escape(m['text'])} <small>({m['grade']}; {where})</small></li>")
        out.append("</ul>")
    return "\n".join(out)


def _day(iso: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(iso).strftime("%-d %B")


def render_progress(p: dict) -> str:
    """The trainee's progress: per topic by its name (a document's title, not its id), and in plain words how many
    questions come back now and later."""
    if not p["topics"]:
        return "<p>No practice yet.</p>"
    rows = []
    for t in p["topics"]:
        history = ", ".join(f"{s['at']}: {s['correct']} of {s['answered']}" for s in t["sessions"][-6:])
        rows.append(f"<tr><td>{html.escape(t.get('label') or t['topic'])}</td><td>{t['answered']}</td><td>{t['correct']}</td>"
                    f"<td>{t['partial']}</td><td>{html.escape(history)}</td></tr>")
    due, later = p["due"], p.get("later", 0)
    said = [f"{due} question{'s' if due != 1 else ''} to practise again now" if due else "Nothing to practise again now"]
    if later:
        said.append(f"{later} more come{'s' if later == 1 else ''} back later"
                    + (f", the first on {_day(p['next_due'])}" if p.get("next_due") else ""))
    return (f'<table class="review" id="practice-progress-table"><tr><th>Topic</th><th>Answered</th><th>Correct</th>'
            f'<th>Partly</th><th>Sessions (correct of answered)</th></tr>{"".join(rows)}</table>'
            f'<p id="practice-due">{"; ".join(said)}. A question you miss comes back in your next session; one you get '
            f'right comes back a few days later, and later each time you get it right again.</p>')


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
    # Gates beside Passed, before the metrics (last, it was scrolled out of view on a laptop's screen); the metric
    # names may break after their underscores
    out.append('<div style="overflow-x:auto"><table class="review" id="eval-runs-table"><tr><th>Run</th><th>Status</th><th>Started</th><th>By</th>'
               '<th>Back-end</th><th>Datasets</th><th>Passed</th><th>Gates</th>'
               + "".join(f"<th>{n.replace('_', '_<wbr>')}</th>" for n in names) + "</tr>")
    for r in runs:
        head = r.get("headline") or {}
        status = r.get("status", "")
        if status == "failed":
            status += ": " + (r.get("error") or "")
        cells = [r["id"], status, r.get("started") or "", r.get("by") or "", r.get("backend") or "",
                 ", ".join(r.get("datasets") or []), f"{r['passed']} of {r['cases']}" if r.get("cases") is not None else ""]
        cells.append("" if r.get("gates_missed") is None else ("missed: " + "; ".join(r["gates_missed"]) if r["gates_missed"] else "met"))
        cells += ["" if head.get(n) is None else f"{head[n]:.3f}" for n in names]
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
@media (min-width: 700px) { .answer-sources { display: none; }
  #sources-column { position: sticky; top: 0; align-self: flex-start; }
  #sources { max-height: calc(100vh - 1rem); overflow-y: auto !important; } }
@media (max-width: 699px) { #sources-column { display: none !important; } #conversations-column { order: 3; } }
"""
SOURCES_PLACEHOLDER = "<p>Sources of each answer appear here.</p>"
