"""Turning retrieved passages into a draft answer: by a chat model, or extractively, or from the glossary.

- `compress`: keeps the sentences of each passage that share words with the question, so the local
  model reads a short prompt (it reads only 60-110 tokens/s).
- `glossary_answer`: a definitional question about a glossary term is answered with the entry's own
  words, verbatim, with its "(NATO agreed)" mark.
- `extractive_answer`: no model; the source sentences that best cover the question, each cited.
Leaves out: the grounding check and citation clean-up, which are the chain's (`chain.py`).
"""

from __future__ import annotations

import math
import re

from assistant.retrieval.hybrid import Retrieved
from assistant.text import SOURCE_REFS, content_words, question_terms, sentences


def _overlap(sentence: str, terms: set[str], idf: dict[str, float]) -> float:
    ws = set(content_words(sentence))
    return sum(idf.get(t, 1.0) for t in terms & ws)


def _idf(passages: list[Retrieved]) -> dict[str, float]:
    docs = [set(content_words(p.chunk.text)) for p in passages]
    n = len(docs) or 1
    vocab = set().union(*docs) if docs else set()
    return {w: math.log(1 + n / (1 + sum(w in d for d in docs))) + 0.5 for w in vocab}


_LIST_ITEM = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s")


def _body(chunk) -> str:
    """A passage's text without the term line a glossary entry starts with."""
    text = chunk.text
    if chunk.kind == "glossary" and chunk.term and text.startswith(chunk.term):
        text = text[len(chunk.term):].lstrip()
    return text


def _sentences(chunk) -> list[str]:
    """The passage's sentences, its bracketed source references ("[5-7]") removed."""
    return [SOURCE_REFS.sub("", s) for s in sentences(_body(chunk))]


def _list_items(sents: list[str], i: int) -> list[int]:
    """The list items (at most 8) that follow sentence i when it introduces a list ("three core functions:")."""
    items = []
    if sents[i].rstrip().endswith(":"):
        for j in range(i + 1, min(i + 9, len(sents))):
            if not _LIST_ITEM.match(sents[j]):
                break
            items.append(j)
    return items


def compress(question: str, passages: list[Retrieved], max_words: int = 110, per_passage: int = 2) -> list[str]:
    """Per passage, the sentences that matter most for the question, in their original order, under the
    heading they sit in ("Lessons for the EU: ..."); a kept sentence that introduces a list ("three core
    functions:") keeps its items."""
    terms = question_terms(question)
    idf = _idf(passages)
    out = []
    budget = max_words
    last_heading = None
    for rank, p in enumerate(passages):
        sents = _sentences(p.chunk)
        heading = p.chunk.term or p.chunk.section.split(" > ")[-1]
        score = [_overlap(s, terms, idf) for s in sents]
        scored = sorted(range(len(sents)), key=lambda i: (-score[i], i))
        under_heading = bool(terms & set(content_words(heading)))
        if rank > 0 and scored and score[scored[0]] == 0 and not under_heading:
            continue  # nothing in this passage, nor its heading, speaks to the question
        keep = set(scored[:per_passage + (1 if rank == 0 else 0)])
        if p.chunk.kind == "glossary" and sents:
            keep.add(0)
        for i in sorted(keep):
            keep.update(_list_items(sents, i))
        text = " ".join(sents[i] for i in sorted(keep))
        words = text.split()
        if len(words) > budget:
            text = " ".join(words[:max(budget, 20)]) + " ..."
        budget -= len(text.split())
        shown = heading if under_heading or p.chunk.kind == "glossary" else ""
        if shown and shown != last_heading:
            text = f"{shown}: {text}"
        last_heading = shown or last_heading
        out.append(text)
        if budget <= 0:
            break
    return out


def glossary_answer(passage: Retrieved, max_sentences: int = 2) -> str:
    """The entry's opening sentences verbatim, each cited [1], and its NATO-agreed text marked as such."""
    c = passage.chunk
    body = _body(c).split("Connection to CIMIC:")[0]
    body = re.sub(r"\s*\(NATO agreed\)", "", body)
    picked = []
    for s in sentences(body):
        if c.nato_agreed and " ".join(c.nato_agreed.split()) in " ".join(s.split()):
            continue
        picked.append(s)
        if len(picked) >= max_sentences:
            break
    parts = [f"{s} [1]" for s in picked]
    if c.nato_agreed:
        parts.insert(0, f"(NATO agreed) {c.term}: “{c.nato_agreed}” [1]")
    return " ".join(parts)


_DATE = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\d")


def _answer_type_bonus(question: str, sentence: str) -> float:
    """A 'when' question wants a date, a 'how many' question a number."""
    q = question.lower()
    if re.search(r"\bwhen\b|\bwhat year\b|\bwhich year\b", q):
        return 1.0 if _DATE.search(sentence) else 0.0
    if re.search(r"\bhow (many|much)\b", q):
        return 1.0 if _NUMBER.search(sentence) else 0.0
    return 0.0


def extractive_answer(question: str, passages: list[Retrieved], max_sentences: int = 2,
                      min_coverage: float = 0.5) -> str | None:
    """The best-covering source sentences, each with its passage number; None if they cover too little.

    A sentence covers the question words it contains and those of the section heading it sits under
    ("Lessons for the EU"); a second sentence is taken when it adds question words, or when it scores
    nearly as well from another passage (two passages that both speak to the question)."""
    terms = question_terms(question)
    if not terms or not passages:
        return None
    idf = _idf(passages)
    candidates = []
    sents = {n: _sentences(p.chunk) for n, p in enumerate(passages, start=1)}
    for n, p in enumerate(passages, start=1):
        heading = terms & set(content_words(f"{p.chunk.section} {p.chunk.term or ''}"))
        for i, s in enumerate(sents[n]):
            if len(s.split()) < 4:
                continue
            own = terms & set(content_words(s))
            score = (sum(idf.get(t, 1.0) for t in own) + 0.5 * sum(idf.get(t, 1.0) for t in heading - own)
                     + _answer_type_bonus(question, s)) / (1 + 0.15 * (n - 1)) + (0.01 if i == 0 else 0)
            if own:
                candidates.append((score, n, i, s, own | heading))
    candidates.sort(key=lambda c: -c[0])
    chosen, covered = [], set()
    for score, n, i, s, cov in candidates:
        new = cov - covered
        if chosen and not new and (score < 0.8 * chosen[0][0] or n == chosen[0][1]):
            continue
        chosen.append((score, n, i, s))
        covered |= cov
        if len(chosen) >= max_sentences:
            break
    total = sum(idf.get(t, 1.0) for t in terms)
    coverage = sum(idf.get(t, 1.0) for t in covered) / total if total else 0
    if not chosen or coverage < min_coverage:
        return None
    chosen.sort(key=lambda c: (c[1], c[2]))
    parts = []
    for _, n, i, s in chosen:
        parts.append(f"{s} [{n}]")
        for j in _list_items(sents[n], i):  # a sentence that introduces a list brings its items
            item = sents[n][j]
            parts.append(f"{item.lstrip('-•* ').rstrip(',;')}. [{n}]" if not item.rstrip().endswith(".")
                         else f"{item.lstrip('-•* ')} [{n}]")
    return " ".join(parts)
