"""Drafting an answer from the selected passages without a chat model: extractively, or from the glossary.

- `glossary_answer`: a definitional question about a glossary term is answered with the entry's own
  words, verbatim, with its "(NATO agreed)" mark.
- `extractive_answer`: no model; the source sentences that best cover the question (by its words, then by
  meaning among the best), each cited.
- `expand_fragments`: a chat model's fragment ("23,000 [2]") becomes the source sentence that holds it.
Leaves out: choosing the sentences a chat model reads (`context.py`), the grounding check and citation
clean-up, which are the pipeline's (`pipeline.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.answering.context import list_items, passage_sentences, score_sentences
from assistant.answering.grounding import cited_markers, strip_markers
from assistant.ingest.glossary import glossary_definition
from assistant.language import (LIST_ITEM, PRECISE_KINDS, content_words, echoes, expects, fold, holds, is_open,
                                sentences)
from assistant.retrieval.hybrid import Retrieved


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
        picked += [sents[j] for j in list_items(sents, i)]  # "The seven baseline requirements ... include:" and its items
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


def _answer_type_bonus(kind: str | None, question: str, sentence: str) -> float:
    """A 'when' question wants a date, a 'how many' question a number, that the question does not give
    itself (`kind`: the gate's own reading of the question's form, `language.expects`)."""
    return 1.0 if kind in PRECISE_KINDS and holds(kind, sentence, question) else 0.0


def extractive_answer(question: str, passages: list[Retrieved], max_sentences: int = 2,
                      weights: dict[str, float] | None = None,
                      closeness: Callable[[list[str]], list[float]] | None = None,
                      open_question: bool | None = None) -> str | None:
    """The best-covering source sentences, each with its passage number; None if no sentence holds a
    question word. Whether they cover enough to be an answer is the gate's decision (`answering/gate.py`).

    A sentence covers the question words it contains and those of the section heading it sits under
    ("Lessons for the EU"); a second sentence is taken when it adds question words, or when it scores
    nearly as well from another passage (two passages that both speak to the question), but never one without the
    date, number or name the question asks for once the first gives it. With
    `closeness` (how close in meaning each sentence is to the question), the `RERANK` best sentences by
    words are ranked again by their word score (relative to the best) plus `MEANING` times that
    closeness, so that a sentence saying it in other words ("the warmest months" for "hottest month")
    can win over one that only repeats the question's words. An open question (`open_question`, the pipeline's
    `question_form` reading; the rules' `language.is_open` where not given) gets its points (`_points`)."""
    if not passages:
        return None
    sents, scored, weights = score_sentences(question, passages, weights)
    if not weights:
        return None
    if is_open(question) if open_question is None else open_question:
        return _points(question, sents, scored, closeness)
    kind = expects(question)
    candidates = []
    for s in scored:
        items = list_items(sents[s.passage], s.i)
        lead_in = s.text.rstrip().endswith(":") and not items  # "... includes:" and no items
        echo = echoes(s.text, question) and not items  # says only what the question says, and brings no list
        if s.own and len(s.text.split()) >= 4 and not lead_in and not echo:
            n = s.passage + 1
            bonus = _answer_type_bonus(kind, question, s.text)
            score = (s.score + bonus) / (1 + 0.15 * (n - 1)) + (0.01 if s.i == 0 else 0)
            candidates.append((score, n, s.i, s.text, s.own | s.near))
    candidates.sort(key=lambda c: -c[0])
    if closeness and candidates:
        best = candidates[0][0] or 1.0
        top = candidates[:RERANK]
        candidates = sorted(((c[0] / best + MEANING * m, *c[1:]) for c, m in zip(top, closeness([c[3] for c in top]))),
                            key=lambda c: -c[0])
    chosen, covered = [], set()
    answered = False  # the first sentence holds the date, number or name the question asks for
    for score, n, i, s, cov in candidates:
        new = cov - covered
        if chosen and not new and (score < 0.8 * chosen[0][0] or n == chosen[0][1]):
            continue
        # a question for a date, a number or a name that the first sentence answers wants no sentence without one
        # ("when did Operation Sentinelle start?" was answered with its date and then with a list of its tasks)
        if answered and not holds(kind, s, question):
            continue
        if not chosen:
            answered = kind is not None and holds(kind, s, question)
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
        for j in list_items(sents[n - 1], i):  # a sentence that introduces a list brings its items
            parts.append(f"{_as_sentence(sents[n - 1][j])} [{n}]")
    return " ".join(parts)


# an open question's answer (`_points`), chosen on the open dev split and on the corpus's dev questions of an open
# form: at most this many points, each kept only while it scores at least this share of the best one, and left out
# when its words overlap a chosen point's this much (0.5 -> 0.7: the same on 0.7-1.0, one more corpus answer held)
POINTS = 6
POINT_FLOOR = 0.3
POINT_OVERLAP = 0.7
MMR_RELEVANCE = 0.7  # maximal marginal relevance: the weight of relevance against redundancy
# what a sentence takes of its paragraph's best score: the paragraph answers, not the sentences that repeat the
# question's words (0.5 -> 2: doctrine open dev key points 0.716 -> 0.752, corpus open-form dev answer present 0.895 ->
# 0.910; 10, the passage alone deciding, and 8 passages in place of 4 were worse on one of the two). The paragraph, not
# the whole passage: a passage's other paragraph rode along on its best sentence (open dev key points 0.836 -> 0.851,
# corpus open-form dev unchanged, 0.941); a list and its lead-in belong to the paragraph before them (`paragraphs`)
PARAGRAPH_SHARE = 2.0


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _points(question: str, sents: dict, scored: list, closeness=None) -> str | None:
    """An open question's answer: the distinct points the passages make about it, quoted and cited, in reading
    order. Candidates are the sentences that speak to the question by their own words, their paragraph's or their
    section heading ("Barriers to cooperation"), never one that only announces a topic (a lead-in with no items, or
    an echo of the question); they are chosen by maximal marginal relevance (relevance by words, and by meaning with
    `closeness`, against content-word overlap with the points already chosen), and a list comes whole: a sentence
    that introduces one brings its items, and an item brings the others (`_whole_list`); the sentence between two
    points of one paragraph comes with them."""
    paragraph_best: dict[tuple[int, int], float] = {}
    for s in scored:
        paragraph_best[s.passage, s.paragraph] = max(paragraph_best.get((s.passage, s.paragraph), 0.0), s.score)
    candidates = []
    for s in scored:
        items = list_items(sents[s.passage], s.i)
        lead_in = s.text.rstrip().endswith(":") and not items
        if len(s.text.split()) < 6 or lead_in or (echoes(s.text, question) and not items):
            continue
        # a point may not repeat the question's words: a sentence of a paragraph that speaks to the question counts
        # with that paragraph's best score, twice over (`PARAGRAPH_SHARE`: the paragraph answers); where its passage
        # sits in reading order says nothing (passages are read section by section: dropping the 15% less per place
        # it used to take lifted open dev key points 0.799 -> 0.806 and corpus open-form dev answers 0.919 -> 0.933)
        relevance = s.score + PARAGRAPH_SHARE * paragraph_best[s.passage, s.paragraph]
        candidates.append([relevance, s.passage + 1, s.i, s.text, set(content_words(s.text))])
    if not candidates:
        return None
    candidates.sort(key=lambda c: -c[0])
    candidates = candidates[:3 * POINTS]  # the rest would rarely be chosen, and each is embedded for its meaning
    best = candidates[0][0] or 1.0
    if closeness:
        for c, m in zip(candidates, closeness([c[3] for c in candidates])):
            c[0] = c[0] / best + MEANING * m
        best = max(c[0] for c in candidates) or 1.0
    chosen: list = []
    while candidates and len(chosen) < POINTS:
        def mmr(c):
            return MMR_RELEVANCE * c[0] / best - (1 - MMR_RELEVANCE) * max((_overlap(c[4], d[4]) for d in chosen), default=0.0)
        pick = max(candidates, key=mmr)
        candidates.remove(pick)
        if chosen and pick[0] < POINT_FLOOR * best:
            break
        if any(_overlap(pick[4], d[4]) >= POINT_OVERLAP for d in chosen):
            continue
        chosen.append(pick)
    spots = sorted((c[1], c[2]) for c in chosen)
    # the one sentence between two points of a paragraph carries the argument from one to the other ("... not yet
    # complete. In practice, there are still gaps in understanding its role. As a result, CIMIC is sometimes
    # underutilised"): it is quoted with them (open dev key points 0.851 -> 0.890; two sentences or more: the same;
    # corpus open-form dev answers present unchanged, 0.941)
    paragraph = {(s.passage + 1, s.i): s.paragraph for s in scored}
    spots += [(n, i + 1) for (n, i), (n2, i2) in zip(spots, spots[1:])
              if n == n2 and i2 - i == 2 and paragraph[n, i] == paragraph[n2, i2]]
    parts, seen = [], set()
    for n, i in sorted(spots):
        for j in _whole_list(sents[n - 1], i):
            if (n, j) not in seen:
                seen.add((n, j))
                parts.append(f"{_as_sentence(sents[n - 1][j])} [{n}]")
    return " ".join(parts)


def _whole_list(sents: list[str], i: int, most: int = 8) -> list[int]:
    """Sentence i and the list it belongs to: the items it introduces ("... include:"), or, when it is an item
    itself, the items around it (at most `most` on each side): a list is quoted whole, never one item of it."""
    if not LIST_ITEM.match(sents[i]):
        return [i] + list_items(sents, i)
    start = i
    while start > 0 and i - start < most and LIST_ITEM.match(sents[start - 1]):
        start -= 1
    end = i
    while end + 1 < len(sents) and end - i < most and LIST_ITEM.match(sents[end + 1]):
        end += 1
    return list(range(start, end + 1))


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
            found = next((s for s in passage_sentences(passages[k].chunk) if fold(plain) in fold(s)), None)
            if found:
                out.append(f"{found} [{k + 1}]")
                break
        if not found:
            out.append(raw)
    return " ".join(out)
