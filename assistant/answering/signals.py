"""What the answer-or-refuse gate reads: plain numbers measured on one question, its passages and its draft.

Retrieval signals are known before drafting; draft signals after. Every signal is a number in [0, 1] that
does not depend on the corpus's size or wording, so that a gate fitted on one corpus carries to another:
- `dense`: best cosine similarity of the question to a retrieved chunk (MiniLM).
- `coverage`: share of the question's words (weighted by their rarity in the whole index) that the
  retrieved passages mention, in their text, headings, title or source record; a number the question
  gives counts as a rare word.
- `focus`: the same share for the single best sentence (its heading counting half), i.e. whether one
  place in the sources speaks to the whole question.
- `unknown`: weighted share of the question's words that no indexed chunk uses at all.
- `names_unknown`: 1 when the question names something (a person, an organisation, a country, an operation, an
  event, a law: `language.named_things`, in lower case too) with a word no indexed chunk uses: "the Turkish Armed
  Forces", "Portugal's COVID Support Force" when the sources never mention Turkey or Portugal. Unlike `unknown`, a
  misspelt or reworded common word does not count.
- `glossary`: the question names a glossary term and is about it.
- `answer_type`: 1 when the best sentence holds what the question's form asks for and the question does
  not already give it (a year for "when", a number of what is counted for "how many soldiers": "23,000
  soldiers", or in other words, "23,000 troops", by MiniLM closeness; a name for "who"), or when the form
  asks for nothing checkable; else 0.
- `typed_focus`: the `focus` of the closest sentence that holds what the question's form asks for (0 when none
  does; `focus` itself when the form asks for nothing checkable): a number of soldiers in a sentence about another
  country's force holds the type and little of the question.
- `names_missing`: weighted share of the question's names (words the sources write capitalised inside sentences,
  `HybridRetriever.is_name`, and numbers the question gives) that the passage of that sentence (its text,
  headings, title and source record) lacks: the passage is about another country, operation or year.
- `pairs`: share of the question's adjacent word pairs ("Norman conquest") that the best sentence has.
- `rare_missing`: the weight of the rarest question word the best sentence and its heading lack,
  relative to the question's rarest word (a swapped name or date leaves one rare word unmatched).
- `negation`: the question negates ("not", "never") where the best sentence does not.
- `antonym`: the question uses a word whose opposite the best sentence uses instead (`language.opposes`, WordNet's
  antonyms): "which city has the smallest population?" over "... is the largest city by population".
- `sentence_dense`: cosine similarity of the question to its best sentences (MiniLM), the best of three.
- `model_refused`: the chat model said the passages do not hold the answer.
- `model_doubt`: how likely its reply was to begin with that refusal (its first token's probability of
  starting "NOT_IN_SOURCES"), a graded version of `model_refused` where the back-end reports it.
- `draft_support`: share of the draft's sentences that the support check grounds.
- `model_confirms`: the chat model's probability that the sources' closest sentences answer the question,
  asked in one token after the draft (`verification.py`); 1.0 when no model drafted.
Leaves out: the decision itself (`gate.py`), how the sentences are checked (`grounding.py`) and what a
question's form asks for (`language.expects`, `language.holds`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from assistant.language import (content_words, counted, expects, holds, named_things, negated, number_phrases,
                                opposes, question_terms, sentences, words_and_parts)

RETRIEVAL_SIGNALS = ("dense", "coverage", "focus", "unknown", "names_unknown", "glossary", "answer_type", "typed_focus",
                     "names_missing", "pairs", "rare_missing", "negation", "antonym", "sentence_dense")
DRAFT_SIGNALS = ("model_refused", "model_doubt", "draft_support", "model_confirms")
SIGNALS = RETRIEVAL_SIGNALS + DRAFT_SIGNALS

@dataclass(frozen=True)
class Signals:
    dense: float = 0.0
    coverage: float = 0.0
    focus: float = 0.0
    unknown: float = 0.0
    names_unknown: float = 0.0
    glossary: float = 0.0
    answer_type: float = 1.0
    typed_focus: float = 0.0
    names_missing: float = 0.0
    pairs: float = 0.0
    rare_missing: float = 0.0
    negation: float = 0.0
    antonym: float = 0.0
    sentence_dense: float = 0.0
    model_refused: float = 0.0
    model_doubt: float = 0.0
    draft_support: float = 1.0
    model_confirms: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def asked_numbers(question: str) -> set[str]:
    return set(re.findall(r"\b\d+\b", question.replace(",", "")))


def _pairs(text: str) -> set[tuple[str, str]]:
    w = content_words(text)
    return set(zip(w, w[1:]))


def weighted_share(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


# MiniLM closeness at which a number's phrase names, in other words, what a "how many" question counts ("troops" and
# "soldiers and reservists" 0.60, "cops" and "police officers" 0.82; "troops" and "hospitals" 0.32, "soldiers" and
# "police officers" 0.47): set on hand-written word pairs, none taken from the evaluation sets
SAME_THING = 0.55


def _holding(kind: str | None, question: str, texts: list[str], index, lexical: list[bool] | None = None
             ) -> list[bool]:
    """Whether each text holds what the question's form asks for (`language.holds`, or `lexical` where it was read
    already, as `retrieval_signals` does with its sort); for "how many X", a number of X named in other words counts
    too (MiniLM closeness of X to what the number counts, `SAME_THING`)."""
    out = list(lexical) if lexical is not None else [holds(kind, t, question) for t in texts]
    things = counted(question) if kind == "number" else ()
    phrases = {i: number_phrases(t, question) for i, t in enumerate(texts) if things and not out[i]}
    flat = [ph for i in phrases for ph in phrases[i]]
    if flat:
        close = dict(zip(flat, index.closeness(index.embedder.embed([" ".join(things)])[0], flat)))
        for i, own in phrases.items():
            out[i] = any(close[ph] >= SAME_THING for ph in own)
    return out


def retrieval_signals(question: str, retrieval, index) -> tuple[Signals, dict[str, float]]:
    """The retrieval signals of a question, and its words' weights (index-wide rarity), for the drafters.

    `index` is the retriever: it knows each chunk's words (`words_of`), the index-wide rarity of a word
    (`idf`), whether any chunk uses it (`vocabulary`), the embedder (`embedder`) and how close in meaning a
    sentence is to the question (`closeness`)."""
    terms = question_terms(question)
    weights = {t: index.idf(t) for t in terms}  # returned for the drafters: the question's words only
    numbers = asked_numbers(question)
    top = max(weights.values(), default=1.0) or 1.0
    weighted = {**weights, **{n: top for n in numbers}}  # a number the question gives counts as a rare word
    passages = retrieval.passages
    seen: set[str] = set()
    texts = []
    for p in passages:
        seen |= index.words_of(p)
        texts.append(p.chunk.text.replace(",", ""))
    seen |= {n for n in numbers if any(re.search(rf"\b{n}\b", t) for t in texts)}
    coverage = weighted_share(weighted, seen)
    unknown = weighted_share(weighted, {t for t in terms if t not in index.vocabulary})
    names_unknown = float(any(set(question_terms(t)) - index.vocabulary for t in named_things(question)))
    kind = expects(question)
    # (share, sentence, the words it and its heading give, its passage's place, whether it holds what is asked)
    scored = []
    for k, p in enumerate(passages):
        heading = words_and_parts(f"{p.chunk.section} {p.chunk.term or ''}")
        for s in sentences(p.chunk.text):
            own = words_and_parts(s) | {n for n in numbers if re.search(rf"\b{n}\b", s.replace(",", ""))}
            share = weighted_share(weighted, own) + 0.5 * weighted_share(weighted, heading - own)
            scored.append((share, s, own | heading, k, holds(kind, s, question)))
    scored.sort(key=lambda x: (-x[0], not x[4]))  # of equally close sentences, one holding what is asked
    focus, best_text, best_words = scored[0][:3] if scored else (0.0, "", set())
    glossary = 1.0 if passages and passages[0].glossary_match else 0.0
    holding = _holding(kind, question, [x[1] for x in scored], index, [x[4] for x in scored])
    answer_type = 1.0 if (holding and holding[0]) or glossary else 0.0
    # the focus of the closest sentence that holds what is asked: "how many soldiers did Poland send" is not answered by
    # "the UK's force comprised 23,000 soldiers", a sentence that holds a number of soldiers and little of the rest
    typed = [x for x, ok in zip(scored, holding) if ok]
    typed_focus = typed[0][0] if typed else 0.0
    # the question's names (words the sources write as names, numbers it gives) that the passage of that sentence
    # lacks: "how many soldiers did Poland send" against a passage on the UK's force
    names = {**{t: w for t, w in weights.items() if index.is_name(t)}, **{n: top for n in numbers}}
    names_missing = 0.0
    if names and typed:
        there = passages[typed[0][3]]
        has = index.words_of(there) | {n for n in numbers if re.search(rf"\b{n}\b", there.chunk.text.replace(",", ""))}
        names_missing = 1.0 - weighted_share(names, has)
    q_pairs = _pairs(question)
    pairs = len(q_pairs & _pairs(best_text)) / len(q_pairs) if q_pairs else 1.0
    missing = [w for t, w in weighted.items() if t not in best_words]
    rare_missing = max(missing, default=0.0) / top
    # only the question's own negation: on the corpus's dev rows a negated question over an affirmative best sentence
    # was a look-alike 108 times in 116, while a negated best sentence under an affirmative question was one 96 times
    # in 192, no sign either way (counted both ways, the second half drowned the first)
    negation = float(negated(question) and not negated(best_text)) if best_text else 0.0
    # a look-alike that asks the reverse of what the best sentence says ("smallest" where it says "largest"): on the
    # corpus's dev articles, a question's closest sentence by its words did so for 76 of 1,249 look-alikes and 10 of
    # 1,242 answerable questions
    antonym = float(opposes(question, best_text)) if best_text else 0.0
    sentence_dense = 0.0
    if scored:
        query = retrieval.vector or index.embedder.embed([question])[0]
        sentence_dense = max(index.closeness(query, [x[1] for x in scored[:3]]))
    sig = Signals(dense=max(0.0, min(1.0, retrieval.relevance)), coverage=coverage, focus=min(1.0, focus),
                  unknown=unknown, names_unknown=names_unknown, glossary=glossary, answer_type=answer_type,
                  typed_focus=min(1.0, typed_focus),
                  names_missing=names_missing, pairs=pairs,
                  rare_missing=min(1.0, rare_missing), negation=negation, antonym=antonym,
                  sentence_dense=max(0.0, min(1.0, sentence_dense)))
    return sig, weights
