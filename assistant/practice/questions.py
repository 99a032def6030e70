"""Practice questions built from the index, each tied to the passage that answers it.

Four kinds, all extractive (no model is needed to phrase them, so a question is ready at once):
- `acronym` (glossary): "What does CMI stand for?"; key point: the expansion.
- `definition` (glossary): "What does “Civil-Military Interaction (CMI)” mean? Give its key elements."; key points:
  the definition's most distinctive phrases.
- `fact` (documents): a sentence holding a number or a date, the fact blanked out ("Fill in the gap").
- `explain` (documents): a sentence that states a purpose or a cause ("in order to", "because", "in
  response to" ...): its statement is given, the reason is asked for; key points: the reason's phrases.
  A cause inside an aside or a quotation ("the army (raised because of ...)") is not asked about.
  An effect ("X resulted in Y") is asked the other way round: "Explain what ... resulted in “Y”".

A key point is a short span copied from the passage (so it is verbatim in it, checked when the question
is built) and never given away by the question (none of its words, numbers included, is in the
question's text). An expansion the passage writes with its acronym is one key point, either form of which
gives it ("Supreme Allied Commander Europe (SACEUR)", `alternatives`), never two. A question shows its
sentence as a reader sees it, without Markdown marks (`plain_text`). Topics: everything, the glossary, each document, and each document's top-level
section with enough questions. "Distinctive" means rare in the index (the retriever's idf), so the phrases that carry
a definition are asked for, not its connecting words. The questions of an index generation are built
once and cached (`QuestionBank`); a new document gets questions after its ingest, without a restart.
Leaves out: questions phrased by the local model, questions that span several passages.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field

from assistant.ingest.glossary import glossary_definition
from assistant.language import (CAUSE, EFFECT, EFFECT_ASKED, LEADING_CAUSE, MONTH_WORDS, PERCENT, STOPWORDS,
                                content_words, in_apparatus, sentences, words)

MAX_SENTENCE_WORDS = 45
MAX_KEY_POINTS = 3
MIN_SECTION_QUESTIONS = 2  # a document's section is offered as a topic from this many questions
_NUMBERISH = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|\b\d[\d,.]*(?:" + PERCENT + ")?")
# a fact worth asking: a number standing alone (not a footnote mark glued to a word, not part of
# "COVID-19" or "№ 15860/C"), that is a year, a share, or counts the word that follows it
_FACT = re.compile(r"(?<![\w\-–№/.,(\[])(?P<n>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?P<unit>" + PERCENT + r")?(?![\w\-–/\]])")
_RUN = re.compile(r"[\w’'-]+")


@dataclass(frozen=True)
class PracticeQuestion:
    id: str
    kind: str  # acronym, definition, fact, explain
    text: str
    key_points: tuple[str, ...]
    chunk_id: str
    passage: str
    doc_id: str
    title: str
    section: str
    page: int | None = None
    topics: tuple[str, ...] = field(default=())

    def citation(self, with_text: bool = True) -> dict:
        out = {"n": 1, "doc_id": self.doc_id, "title": self.title, "section": self.section, "page": self.page,
               "chunk_id": self.chunk_id}
        return {**out, "text": self.passage} if with_text else out


def _id(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


def leaks(question: str, point: str) -> bool:
    """Whether the question gives the key point away: its numbers, or all of its content words (of either form of
    a point that is an expansion with its acronym: the question that names "SACEUR" gives "Supreme Allied Commander
    Europe (SACEUR)" away)."""
    q_numbers = set(_NUMBERISH.findall(question))
    if any(n in q_numbers for n in _NUMBERISH.findall(point)):
        return True
    asked = set(content_words(question))
    for form in alternatives(point):
        stems = set(content_words(form))
        if stems and stems <= asked:
            return True
    return False


# "Supreme Allied Commander Europe (SACEUR)": an expansion, then its acronym in brackets
_EXPANDED = re.compile(r"(?P<long>[\w’'-]+(?:[ \t]+[\w’'-]+){0,9})[ \t]*\((?P<short>[A-Za-z][\w.&/-]{1,11})\)")


def stands_for(short: str, long: str) -> str | None:
    """The words at the end of `long` that `short` abbreviates, or None (Schwartz and Hearst's rule: the acronym's
    letters in order, its first letter starting a word, at most len(short) + 5 words): "SACEUR" of "led by the
    Supreme Allied Commander Europe" is "Supreme Allied Commander Europe"; "CRSV" of "Conflict-Related Sexual
    Violence" is all of it. The acronym needs two capitals ("NATO", "PoC"); a plain word in brackets is none."""
    letters = [c.lower() for c in short if c.isalnum()]
    if sum(c.isupper() for c in short) < 2 or len(letters) < 2:
        return None
    tokens = long.split()
    for n in range(1, min(len(tokens), len(letters) + 5) + 1):
        candidate = " ".join(tokens[-n:])
        if candidate[:1].lower() != letters[0]:
            continue
        text, at = candidate.lower(), len(candidate)
        for c in reversed(letters[1:]):  # each further letter, from the last, found before the one after it
            at = text.rfind(c, 0, at)
            if at < 1:
                break
        else:  # and the first letter is the candidate's own
            if candidate.lower() != short.lower():
                return candidate
    return None


def expansions(text: str) -> list[tuple[str, str, str]]:
    """Each "expansion (ACRONYM)" the text writes, as (the verbatim span "expansion (ACRONYM)", expansion, acronym)."""
    out = []
    for m in _EXPANDED.finditer(text):
        long = stands_for(m.group("short"), m.group("long"))
        if long:
            start = m.start("long") + len(m.group("long")) - len(long)
            out.append((text[start:m.end()], long, m.group("short")))
    return out


def alternatives(point: str) -> tuple[str, ...]:
    """The forms a key point may be given in: an expansion with its acronym ("Supreme Allied Commander Europe
    (SACEUR)") is given by either; any other point by itself."""
    found = expansions(point)
    if len(found) == 1 and found[0][0] == point:
        return found[0][1], found[0][2]
    return (point,)


def key_phrases(text: str, idf, avoid: str, limit: int = MAX_KEY_POINTS, longest: int = 4) -> list[str]:
    """The most distinctive spans of `text`: runs of content words (no stop word, no punctuation inside),
    at most `longest` words (the rarest window of a longer run), scored by the rarity of their words;
    none of them given away by `avoid` (the question), and no sentence's one-word opening clause
    ("Furthermore, ...", "However, ...": a connective, not a point to remember)."""
    avoid_stems = set(content_words(avoid))
    scored = []
    parts = re.split(r"([,;:()“”\"–—.!?\[\]]+)", text)  # clauses, with the punctuation between them
    offsets = [sum(len(p) for p in parts[:k]) for k in range(len(parts))]
    for k in range(0, len(parts), 2):
        clause, before, after = parts[k], parts[k - 1] if k else ".", parts[k + 1] if k + 1 < len(parts) else ""
        if len(clause.split()) == 1 and re.search(r"[.!?]\s*$", before) and after.startswith(","):
            continue  # a sentence's one-word opening clause is a connective ("Furthermore, ..."), not a point
        run: list[re.Match] = []
        for m in list(_RUN.finditer(clause)) + [None]:
            if m is not None and m.group().lower() not in STOPWORDS and not m.group().isdigit():
                run.append(m)
                continue
            if run:
                windows = [run[i:i + longest] for i in range(max(1, len(run) - longest + 1))]
                best = max(windows, key=lambda w: sum(idf(s) for t in w for s in content_words(t.group())))
                span = clause[best[0].start():best[-1].end()]
                stems = [s for t in best for s in content_words(t.group())]
                fresh = [s for s in stems if s not in avoid_stems]
                if fresh:
                    scored.append((sum(idf(s) for s in fresh), span, offsets[k] + best[0].start()))
            run = []
    pairs = [(m, text.index(m[0])) for m in expansions(text)]
    out, seen = [], set()
    for _, span, at in sorted(scored, key=lambda x: -x[0]):
        merged = _with_its_acronym(span, at, pairs)
        if merged != span and leaks(avoid, merged):
            continue  # the question names the expansion or its acronym: the point is given away
        span = merged
        key = frozenset(s for form in alternatives(span) for s in content_words(form))
        if key & seen:
            continue
        seen |= key
        out.append(span)
        if len(out) == limit:
            break
    return out


def _with_its_acronym(span: str, at: int, pairs: list[tuple[tuple[str, str, str], int]]) -> str:
    """An expansion and its acronym are one key point, given by either ("Supreme Allied Commander Europe
    (SACEUR)"), not two: a span (at offset `at` of the text) inside an expansion the text writes with its acronym,
    or that acronym wherever it stands, becomes the two together."""
    for (whole, long, short), start in pairs:
        if span == short or start <= at and at + len(span) <= start + len(long):
            return whole
    return span


def _glossary_questions(chunk, idf) -> list[PracticeQuestion]:
    out = []
    term = chunk.term or chunk.section
    name = re.sub(r"\s*\([^)]*\)\s*$", "", term).strip()
    if chunk.acronym and name and name != chunk.acronym:
        text = f"What does {chunk.acronym} stand for?"
        if name in chunk.text and not leaks(text, name):
            out.append(("acronym", text, (name,)))
    lead = " ".join(sentences(glossary_definition(chunk))[:2])
    text = f"What does “{term}” mean? Give its key elements."
    points = tuple(p for p in key_phrases(lead, idf, text) if p in chunk.text and not leaks(text, p))
    if len(points) >= 2:
        out.append(("definition", text, points))
    return out


def _worth_asking(m: re.Match, sentence: str) -> bool:
    value, after = m.group("n"), sentence[m.end():].lstrip()
    before = sentence[:m.start()].rstrip().split()
    if re.fullmatch(r"1[89]\d\d|20\d\d", value):
        return True  # a year
    if m.group("unit"):
        return True  # a share
    if before and before[-1].lower().strip(",") in MONTH_WORDS:
        return True  # a date
    count = value.replace(",", "")
    return count.isdigit() and int(count) >= 2 and bool(re.match(r"[a-z]", after))  # "17 bridges", "23,000 soldiers"


def _balanced(text: str) -> bool:
    """Every bracket and quotation the text opens, it closes: it is not cut inside an aside or a quotation."""
    return text.count("(") == text.count(")") and text.count("“") == text.count("”") and text.count('"') % 2 == 0


_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|#{1,6})\s+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_LINK = re.compile(r"!?\[([^\]]+)\]\([^)\s]+\)")


def plain_text(sentence: str) -> str:
    """A sentence as a reader sees it, without its Markdown: no list mark or heading mark before it, no bold,
    italics or code marks, a link's text without its address ("- **The Act of 26 April 2007**, which ..." ->
    "The Act of 26 April 2007, which ...")."""
    text = " ".join(sentence.split())
    text = _LIST_MARK.sub("", text)
    text = _LINK.sub(r"\1", text)
    for _ in range(2):  # "***bold italics***"
        text = _EMPHASIS.sub(r"\2", text)
    return text


def _document_questions(chunk, idf) -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    where = f"{chunk.title}" + (f", {chunk.section}" if chunk.section and chunk.section != chunk.title else "")
    for sentence in sentences(chunk.text):
        plain = plain_text(sentence)
        n_words = len(words(plain))
        if n_words < 8 or n_words > MAX_SENTENCE_WORDS or plain.endswith("?") or len(_NUMBERISH.findall(plain)) > 2:
            continue  # too short or long to ask about, a question itself, or a list of figures (a citation, a table row)
        facts = [m for m in _FACT.finditer(plain) if _worth_asking(m, plain)]
        if facts and len(out) < 2:
            m = max(facts, key=lambda m: len(m.group()))
            point = m.group().strip()
            blanked = plain[:m.start()] + "_____" + plain[m.end():]
            text = f"Fill in the gap ({where}): “{blanked}”"
            if point in chunk.text and not leaks(text, point):
                out.append(("fact", text, (point,)))
                continue
        cause, inner, effect = LEADING_CAUSE.match(plain), CAUSE.search(plain), EFFECT.search(plain)
        inner = inner if inner and _balanced(plain[:inner.start()]) else None  # a cause inside an aside or a quotation
        effect = effect if effect and _balanced(plain[:effect.start()]) else None  # is not the sentence's own
        led_to = None  # "X resulted in Y": Y is what was caused, a phrase rather than a statement of its own
        if cause and "," in plain:
            reason, statement = plain[cause.end():plain.index(",")], plain[plain.index(",") + 1:]
        elif inner and inner.start() > 20:
            statement, reason = plain[:inner.start()], plain[inner.end():]
        elif effect and effect.start() > 20:
            reason, statement = plain[:effect.start()], plain[effect.end():]
            led_to = EFFECT_ASKED[effect.group().lower()]
        else:
            continue
        statement = statement.strip(" ,.;")
        if not statement or words(statement)[-1] in STOPWORDS or not _balanced(statement):
            continue  # "The common goal of these mechanisms is": the statement needs what follows; "“The ability to"
        if led_to:
            text = f"Explain what, according to {where}, {led_to} “{statement}”."
        else:
            text = f"Explain why, according to {where}: “{statement}.” What reason or purpose does the source give?"
        points = tuple(p for p in key_phrases(reason, idf, text, limit=2) if p in chunk.text and not leaks(text, p))
        if points and len(words(statement)) >= 5:
            out.append(("explain", text, points))
    return out


def build_questions(chunks: dict, idf) -> list[PracticeQuestion]:
    """Every question the chunks yield, in reading order (document, then position)."""
    out = []
    for chunk_id, c in sorted(chunks.items(), key=lambda kv: (kv[1].doc_id, kv[1].path, kv[1].start, kv[0])):
        if c.kind == "glossary":
            made, topics = _glossary_questions(c, idf), ("glossary", c.doc_id)
        elif c.kind == "text" and not in_apparatus(c.section):
            top = c.section.split(">")[0].strip()
            made, topics = _document_questions(c, idf), (c.doc_id, f"{c.doc_id}#{top}") if top else (c.doc_id,)
        else:
            continue
        for kind, text, points in made:
            out.append(PracticeQuestion(_id(kind, chunk_id, *points), kind, text, points, chunk_id, c.text, c.doc_id,
                                        c.title, c.section, c.page, topics))
    return out


class QuestionBank:
    """The questions of the retriever's current index, rebuilt when its generation changes."""

    def __init__(self, retriever):
        self.retriever = retriever
        self._lock = threading.Lock()
        self._generation = object()
        self._questions: list[PracticeQuestion] = []
        self._by_id: dict[str, PracticeQuestion] = {}

    def questions(self) -> list[PracticeQuestion]:
        self.retriever.refresh_if_changed()
        with self._lock:
            generation = self.retriever.generation
            if generation != self._generation or not self._questions:
                self._questions = build_questions(dict(self.retriever.chunks), self.retriever.idf)
                self._by_id = {q.id: q for q in self._questions}
                self._generation = generation
            return self._questions

    def get(self, question_id: str) -> PracticeQuestion | None:
        self.questions()
        return self._by_id.get(question_id)

    def topics(self, qs: list[PracticeQuestion] | None = None) -> list[tuple[str, str]]:
        """(label, key) of every topic with questions: everything, the glossary, each document, and each
        document's top-level section that has at least MIN_SECTION_QUESTIONS questions. Of `qs` when the
        caller has just read the questions, so that the index is asked once whether it changed."""
        titles: dict[str, str] = {}
        sections: dict[str, int] = {}
        qs = self.questions() if qs is None else qs
        for q in qs:
            titles.setdefault(q.doc_id, q.title)
            for t in q.topics:
                if "#" in t:
                    sections[t] = sections.get(t, 0) + 1
        out = [("Everything", "everything")]
        if any("glossary" in q.topics for q in qs):
            out.append(("Glossary terms", "glossary"))
        glossaries = {q.doc_id for q in qs if q.kind in ("acronym", "definition")}
        documents = sorted(((t, d) for d, t in titles.items() if d not in glossaries), key=lambda x: x[0].lower())
        for title, doc_id in documents:
            out.append((title, doc_id))
            out += [(f"{title} › {key.split('#', 1)[1]}", key) for key, n in sections.items()
                    if key.startswith(doc_id + "#") and n >= MIN_SECTION_QUESTIONS and key.split("#", 1)[1] != title]
        return out

    def of_topic(self, topic: str | None) -> list[PracticeQuestion]:
        qs = self.questions()
        if not topic or topic == "everything":
            return qs
        return [q for q in qs if topic in q.topics]
