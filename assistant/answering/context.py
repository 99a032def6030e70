"""Context selection: which sentences of the retrieved passages a drafter reads.

- `score_sentences`: how well each sentence speaks to the question; compression and extractive answers
  both choose by it. (A document's catalogue card is retrieved only for a question about a document itself:
  `retrieval/hybrid.py`.)
- `compress`: the sentences that add the most question words, within a word budget, so the local model
  reads a short prompt (it reads only 60-110 tokens/s).
Leaves out: writing the draft (`drafting.py`) and checking it (`grounding.py`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from assistant.ingest.glossary import entry_body
from assistant.language import (LIST_ITEM, PRONOUN_OPENING, SOURCE_REFS, content_words, question_terms, sentences,
                                words_and_parts)
from assistant.retrieval.hybrid import Retrieved


def _idf(passages: list[Retrieved]) -> dict[str, float]:
    docs = [set(content_words(p.chunk.text)) for p in passages]
    n = len(docs) or 1
    vocab = set().union(*docs) if docs else set()
    return {w: math.log(1 + n / (1 + sum(w in d for d in docs))) + 0.5 for w in vocab}


def passage_sentences(chunk) -> list[str]:
    """The passage's sentences, its bracketed source references ("[5-7]") removed."""
    return [SOURCE_REFS.sub("", s) for s in sentences(entry_body(chunk))]


def paragraphs(chunk) -> list[int]:
    """For each of the passage's sentences (`passage_sentences`), the paragraph it sits in (0, 1, ...): blank
    lines part them, except that a list and the sentence introducing it ("Some of its activities included:")
    belong to the paragraph before them."""
    body, at, out = entry_body(chunk), 0, []
    for s in sentences(body):
        found = body.find(s, at)
        new = (found >= 0 and re.search(r"\n\s*\n", body[at:found])
               and not (LIST_ITEM.match(s) or s.rstrip().endswith(":")))
        if found >= 0:
            at = found + len(s)
        out.append(out[-1] + bool(new) if out else 0)
    return out


def list_items(sents: list[str], i: int, in_list: bool = False) -> list[int]:
    """The list items (at most 8) that follow sentence i when it introduces a list ("three core functions:"),
    or, with `in_list`, when it is itself an item (of a list its heading introduces: "Lessons for the EU")."""
    items = []
    if sents[i].rstrip().endswith(":") or (in_list and LIST_ITEM.match(sents[i])):
        for j in range(i + 1, min(i + 9, len(sents))):
            if not LIST_ITEM.match(sents[j]):
                break
            items.append(j)
    return items


def _heading(chunk) -> str:
    """The heading a passage sits under: its glossary term, else the last part of its section."""
    return chunk.term or chunk.section.split(" > ")[-1]


@dataclass
class Scored:
    """One sentence of a passage and how well it speaks to the question."""
    passage: int  # index in the passages given
    i: int  # index among the passage's sentences
    text: str
    score: float
    own: set[str]  # the question words the sentence contains
    near: set[str]  # the question words its section heading or glossary term adds
    far: set[str]  # the question words its document's title or the source the question names adds
    paragraph: int = 0  # the passage's paragraph it sits in
    follows: bool = False  # it opens with a pronoun ("Its objective ...") whose subject the sentence before names


def _weigh(weights: dict[str, float], terms) -> float:
    return sum(weights[t] for t in terms)


def score_sentences(question: str, passages: list[Retrieved], weights: dict[str, float] | None = None
                    ) -> tuple[dict[int, list[str]], list[Scored], dict]:
    """Every sentence of every passage, scored by the question words it contains (weighted by how rare
    they are among the passages), plus half of those its section heading adds ("Lessons for the EU")
    and a quarter of those its document's title adds or that name its source ("the Harvard brief"), wherever
    the sentence has them.
    Also returns the weights of the question words: `weights` when given (their rarity in the whole
    index), else their rarity among these passages."""
    if weights is None:
        idf = _idf(passages)
        weights = {t: idf.get(t, 1.0) for t in question_terms(question)}
    terms = set(weights)
    sents, out = {}, []
    for k, p in enumerate(passages):
        c = p.chunk
        sents[k] = passage_sentences(c)
        near = terms & words_and_parts(f"{c.section} {c.term or ''}")
        if _heading(c) == c.title:  # a passage before the first heading sits under the title only
            near = set()
        far = (terms & words_and_parts(c.title) | p.names) - near
        before: set[str] = set()
        para = paragraphs(c)
        for i, s in enumerate(sents[k]):
            # the words that name the passage's source by its record count as its title's: "this brief" is no closer
            own = (terms - p.names) & words_and_parts(s)
            follows = bool(i and PRONOUN_OPENING.match(s))
            if follows:  # "Its objective was ...": the sentence before names what "its" is
                own = own | before
            before = own
            score = _weigh(weights, own) + 0.5 * _weigh(weights, near - own) + 0.25 * _weigh(weights, far - own)
            out.append(Scored(k, i, s, score, own, near - own, far - own, para[i], follows))
    return sents, out, weights


def _window(sentence: str, terms: set[str], n: int) -> str:
    """The n words of a long sentence that hold the most question words, centred on them, with "..."
    where words were left out."""
    ws = sentence.split()
    found = [terms & words_and_parts(w) for w in ws]

    def fit(j):
        inside = [x for x in range(j, j + n) if found[x]]
        distinct = len(set().union(*(found[x] for x in inside))) if inside else 0
        phrases = sum(1 for x in inside if x + 1 < j + n and found[x + 1] and found[x + 1] != found[x])  # "humanitarian actors"
        middle = (inside[0] + inside[-1]) / 2 if inside else n / 2
        return distinct + phrases, len(inside), -abs(middle - (j + (n - 1) / 2)), -j

    start = max(range(len(ws) - n + 1), key=fit)
    return ("... " if start else "") + " ".join(ws[start:start + n]) + (" ..." if start + n < len(ws) else "")


def compress(question: str, passages: list[Retrieved], max_words: int = 130, per_passage: int = 3,
             max_sentence: int = 60) -> list[tuple[int, str]]:
    """The sentences that matter most for the question, as (passage index, text) in reading order, at most
    `max_words` words in all and `max_sentence` words a sentence, so that the local model reads a short
    prompt.

    Sentences are taken one at a time: the one that adds the most question words not yet covered (its
    own, its heading's, its title's or source's), then by its score, a higher-ranked passage first; once
    nothing adds a question word, only sentences scoring at least half as well as the best one. A kept
    sentence that introduces a list ("three core functions:") keeps its items, and so does an item of a
    list whose heading covers most of the question; a heading is shown when it speaks to the question."""
    sents, scored, weights = score_sentences(question, passages)
    if not scored:
        return []
    top = max(s.score for s in scored)
    rank = {k: r for r, k in enumerate(sorted(range(len(passages)), key=lambda k: -passages[k].score))}
    prior = {id(s): s.score / (1 + 0.15 * rank[s.passage]) for s in scored}
    left = [s for s in scored if s.score > 0] or [s for s in scored if rank[s.passage] == 0][:1]
    kept: dict[int, list[int]] = {}
    cut: dict[tuple[int, int], int] = {}  # a sentence shortened to this many of its words
    covered: set[str] = set()
    budget = max_words
    while left and budget > 0:
        s = max(left, key=lambda s: (_weigh(weights, (s.own | s.near | s.far) - covered) + 0.3 * prior[id(s)], -rank[s.passage], -s.i))
        left.remove(s)
        new = (s.own | s.near | s.far) - covered
        if not new and s.score < 0.5 * top:
            break
        have = kept.setdefault(s.passage, [])
        first = not have
        heading_list = _weigh(weights, s.near | s.far) >= 0.5 * _weigh(weights, weights)
        unit = [s.i - 1] * s.follows + [s.i] + list_items(sents[s.passage], s.i, in_list=heading_list)
        unit = [i for i in unit if i not in have]
        if not unit or len(have) >= per_passage:
            continue
        size = [min(len(sents[s.passage][i].split()), max_sentence) for i in unit]
        while sum(size) > budget and len(unit) > 1 + s.follows:  # a list is cut short rather than left out
            unit.pop(), size.pop()
        if sum(size) > budget and (not first or budget < 15):
            continue
        if sum(size) > budget:  # the passage's first sentence, cut to the words left
            unit, size = unit[-1:], [budget]
        for i, words in zip(unit, size):
            if words < len(sents[s.passage][i].split()):
                cut[(s.passage, i)] = words
        have += unit
        covered |= new
        budget -= min(sum(size), budget)
    terms = set(weights)
    out, last_heading = [], None
    for k in sorted(kept):
        if not kept[k]:
            continue
        text = " ".join(_window(sents[k][i], terms, cut[(k, i)]) if (k, i) in cut else sents[k][i] for i in sorted(kept[k]))
        c = passages[k].chunk
        heading = _heading(c)
        shown = heading if c.kind == "glossary" or (heading != c.title and terms & set(content_words(heading))) else ""
        # the title, when it holds question words the passage does not ("Lessons for the EU" is Ukraine's experience)
        title = c.title if c.kind != "document" and (terms & set(content_words(c.title))) - set(
            content_words(f"{text} {shown}")) else ""
        label = f"{shown} ({title})" if shown and title else shown or title
        if label and label != last_heading:
            text = f"{label}: {text}"
        last_heading = label or last_heading
        out.append((k, text))
    return out
