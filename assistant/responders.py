"""Turning retrieved passages into a draft answer: by a chat model, or extractively, or from the glossary.

- `compress`: the sentences that add the most question words, within a word budget, so the local
  model reads a short prompt (it reads only 60-110 tokens/s).
- `score_sentences`: how well each sentence speaks to the question; compression and extractive
  answers both choose by it.
- `glossary_answer`: a definitional question about a glossary term is answered with the entry's own
  words, verbatim, with its "(NATO agreed)" mark.
- `extractive_answer`: no model; the source sentences that best cover the question (by its words, then by
  meaning among the best), each cited.
Leaves out: the grounding check and citation clean-up, which are the chain's (`chain.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answering.signals import expects, holds
from assistant.retrieval.hybrid import Retrieved
from assistant.grounding import cited_markers, strip_markers
from assistant.ingest.glossary import CONNECTION
from assistant.text import LIST_ITEM, SOURCE_REFS, content_words, echoes, fold, question_terms, sentences


def _idf(passages: list[Retrieved]) -> dict[str, float]:
    docs = [set(content_words(p.chunk.text)) for p in passages]
    n = len(docs) or 1
    vocab = set().union(*docs) if docs else set()
    return {w: math.log(1 + n / (1 + sum(w in d for d in docs))) + 0.5 for w in vocab}


def _body(chunk) -> str:
    """A passage's text without the term line a glossary entry starts with."""
    text = chunk.text
    if chunk.kind == "glossary" and chunk.term and text.startswith(chunk.term):
        text = text[len(chunk.term):].lstrip()
    return text


def glossary_definition(chunk) -> str:
    """A glossary entry's definition: its text without the term line and the "Connection to CIMIC" part."""
    return _body(chunk).split(CONNECTION)[0]


def _sentences(chunk) -> list[str]:
    """The passage's sentences, its bracketed source references ("[5-7]") removed."""
    return [SOURCE_REFS.sub("", s) for s in sentences(_body(chunk))]


def _list_items(sents: list[str], i: int, in_list: bool = False) -> list[int]:
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
    follows: bool = False  # it opens with a pronoun ("Its objective ...") whose subject the sentence before names


_PRONOUN = re.compile(r"^(?:It|Its|They|Their|This|These|He|She|His|Her)\b")


def _weigh(weights: dict[str, float], terms) -> float:
    return sum(weights[t] for t in terms)


def score_sentences(question: str, passages: list[Retrieved], weights: dict[str, float] | None = None
                    ) -> tuple[dict[int, list[str]], list[Scored], dict]:
    """Every sentence of every passage, scored by the question words it contains (weighted by how rare
    they are among the passages), plus half of those its section heading adds ("Lessons for the EU")
    and a quarter of those its document's title adds or that name its source ("the Harvard brief").
    Also returns the weights of the question words: `weights` when given (their rarity in the whole
    index), else their rarity among these passages."""
    if weights is None:
        idf = _idf(passages)
        weights = {t: idf.get(t, 1.0) for t in question_terms(question)}
    terms = set(weights)
    sents, out = {}, []
    for k, p in enumerate(passages):
        c = p.chunk
        sents[k] = _sentences(c)
        near = terms & set(content_words(f"{c.section} {c.term or ''}"))
        if _heading(c) == c.title:  # a passage before the first heading sits under the title only
            near = set()
        far = (terms & set(content_words(c.title)) | p.names) - near
        before: set[str] = set()
        for i, s in enumerate(sents[k]):
            own = terms & set(content_words(s))
            follows = bool(i and _PRONOUN.match(s))
            if follows:  # "Its objective was ...": the sentence before names what "its" is
                own = own | before
            before = own
            score = _weigh(weights, own) + 0.5 * _weigh(weights, near - own) + 0.25 * _weigh(weights, far - own)
            out.append(Scored(k, i, s, score, own, near - own, far - own, follows))
    return sents, out, weights


def _window(sentence: str, terms: set[str], n: int) -> str:
    """The n words of a long sentence that hold the most question words, centred on them, with "..."
    where words were left out."""
    ws = sentence.split()
    found = [terms & set(content_words(w)) for w in ws]

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
        unit = [s.i - 1] * s.follows + [s.i] + _list_items(sents[s.passage], s.i, in_list=heading_list)
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


def glossary_answer(passage: Retrieved, max_sentences: int = 2) -> str:
    """The entry's opening sentences verbatim, each cited [1], and its NATO-agreed text marked as such."""
    c = passage.chunk
    body = glossary_definition(c)
    body = re.sub(r"\s*\(NATO agreed\)", "", body)
    picked, sents = [], sentences(body)
    for i, s in enumerate(sents):
        if c.nato_agreed and " ".join(c.nato_agreed.split()) in " ".join(s.split()):
            continue
        picked.append(s)
        picked += [sents[j] for j in _list_items(sents, i)]  # "The seven baseline requirements ... include:" and its items
        if len(picked) >= max_sentences:
            break
    parts = [f"{s} [1]" for s in picked]
    if c.nato_agreed:
        parts.insert(0, f"(NATO agreed) {c.term}: “{c.nato_agreed}” [1]")
    return " ".join(parts)


# sentence ranking by meaning (`extractive_answer`), chosen on the dev splits (the corpus's dev articles and
# the gold set's dev cases, `cimic eval`): of 5, 8, 12 sentences and weights 0.5-1.0, 5 and 1.0 cite the gold
# passage most on the corpus (0.800 -> 0.838) without losing a gold fact (0.905); 8 and 1.0 lose two
RERANK = 5
MEANING = 1.0


def _answer_type_bonus(question: str, sentence: str) -> float:
    """A 'when' question wants a date, a 'how many' question a number, that the question does not give
    itself (the gate's own reading of the question's form, `answering/signals.py`)."""
    kind = expects(question)
    return 1.0 if kind in ("time", "number") and holds(kind, sentence, question) else 0.0


def extractive_answer(question: str, passages: list[Retrieved], max_sentences: int = 2,
                      weights: dict[str, float] | None = None,
                      closeness: Callable[[list[str]], list[float]] | None = None) -> str | None:
    """The best-covering source sentences, each with its passage number; None if no sentence holds a
    question word. Whether they cover enough to be an answer is the gate's decision (`answering/gate.py`).

    A sentence covers the question words it contains and those of the section heading it sits under
    ("Lessons for the EU"); a second sentence is taken when it adds question words, or when it scores
    nearly as well from another passage (two passages that both speak to the question). With
    `closeness` (how close in meaning each sentence is to the question), the `RERANK` best sentences by
    words are ranked again by their word score (relative to the best) plus `MEANING` times that
    closeness, so that a sentence saying it in other words ("the warmest months" for "hottest month")
    can win over one that only repeats the question's words."""
    if not passages:
        return None
    sents, scored, weights = score_sentences(question, passages, weights)
    if not weights:
        return None
    candidates = []
    for s in scored:
        items = _list_items(sents[s.passage], s.i)
        lead_in = s.text.rstrip().endswith(":") and not items  # "... includes:" and no items
        echo = echoes(s.text, question) and not items  # says only what the question says, and brings no list
        if s.own and len(s.text.split()) >= 4 and not lead_in and not echo:
            n = s.passage + 1
            score = (s.score + _answer_type_bonus(question, s.text)) / (1 + 0.15 * (n - 1)) + (0.01 if s.i == 0 else 0)
            candidates.append((score, n, s.i, s.text, s.own | s.near))
    candidates.sort(key=lambda c: -c[0])
    if closeness and candidates:
        best = candidates[0][0] or 1.0
        top = candidates[:RERANK]
        candidates = sorted(((c[0] / best + MEANING * m, *c[1:]) for c, m in zip(top, closeness([c[3] for c in top]))),
                            key=lambda c: -c[0])
    chosen, covered = [], set()
    for score, n, i, s, cov in candidates:
        new = cov - covered
        if chosen and not new and (score < 0.8 * chosen[0][0] or n == chosen[0][1]):
            continue
        chosen.append((score, n, i, s))
        covered |= cov
        if len(chosen) >= max_sentences:
            break
    if not chosen:
        return None
    chosen.sort(key=lambda c: (c[1], c[2]))
    parts = []
    for _, n, i, s in chosen:
        parts.append(f"{_as_sentence(s)} [{n}]")
        for j in _list_items(sents[n - 1], i):  # a sentence that introduces a list brings its items
            parts.append(f"{_as_sentence(sents[n - 1][j])} [{n}]")
    return " ".join(parts)


def _as_sentence(text: str) -> str:
    """A quoted sentence or list item as a sentence of its own: no bullet, and a full stop where it ended
    with a comma or semicolon ("- The Act of 2007 ...;" -> "The Act of 2007 ....")."""
    text = re.sub(r"^\s*[-•*]\s+", "", text).strip()
    return text if text.endswith((".", "!", "?", ":", ".”", '."')) else text.rstrip(",;") + "."


def expand_fragments(draft: str, passages: list[Retrieved], question: str = "", max_words: int = 5) -> str:
    """A draft sentence that is only a fragment ("January 2015 [1]", "23,000 [2]") becomes the source
    sentence that holds it, from the passage it cites (else the first passage that holds it): the model
    pointed at the answer, the sources say it in full. A fragment no passage holds, or one that only
    repeats the question's words (an echo, not an answer: "PWNED" for "reply only with PWNED"), is
    left as it is."""
    out = []
    for raw in sentences(draft or ""):
        plain = strip_markers(raw).strip().rstrip(".")
        cited = cited_markers(raw)
        if not plain or len(plain.split()) > max_words or echoes(plain, question):
            out.append(raw)
            continue
        order = [n - 1 for n in cited if 1 <= n <= len(passages)] + list(range(len(passages)))
        found = None
        for k in dict.fromkeys(order):
            found = next((s for s in _sentences(passages[k].chunk) if fold(plain) in fold(s)), None)
            if found:
                out.append(f"{found} [{k + 1}]")
                break
        if not found:
            out.append(raw)
    return " ".join(out)
