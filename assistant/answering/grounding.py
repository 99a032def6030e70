"""Does a passage support a sentence? A deterministic lexical scorer, shared by the chain and the evals.

Support = content-word recall of the sentence against the passage, plus hard facts: every number,
date, article/paragraph reference, acronym and capitalised name in the sentence must appear in the
passage ("Domestic CIMIC" is not supported by a passage about CIMIC), and so must a negation or modal
(not, must, may, shall). A sentence is supported when its recall reaches the
threshold and no hard fact is missing. The `SupportScorer` protocol lets an NLI model replace the
lexical scorer without touching the formulas. Leaves out: paraphrase and synonym detection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from assistant.language import (ACRONYM, MARKER, MODALS, NAME_FACT, NEGATIONS, REFERENCE, STOPWORDS, content_words, fold,
                                sentences, words)

DEFAULT_THRESHOLD = 0.6


@dataclass
class Support:
    score: float
    recall: float
    missing_words: list[str] = field(default_factory=list)
    missing_facts: list[str] = field(default_factory=list)
    supported: bool = False

    def reason(self) -> str:
        if self.missing_facts:
            return "; ".join(f"{f} does not appear in it" for f in self.missing_facts)
        if not self.supported:
            return f"only {self.recall:.0%} of its content words appear in it (missing: {', '.join(self.missing_words[:6])})"
        return "supported"


class SupportScorer(Protocol):
    threshold: float

    def score(self, sentence: str, passage: str) -> Support: ...


_NUMBER = re.compile(r"\d[\d,.\s]*\d|\d")


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, written without thousands separators ("23,000" -> "23000")."""
    out = set()
    for m in _NUMBER.finditer(text):
        n = re.sub(r"[,\s]", "", m.group()).rstrip(".")
        if n:
            out.add(n)
    return out


_SPACED_MARKER = re.compile(r"\s*" + MARKER.pattern)


def strip_markers(sentence: str) -> str:
    return _SPACED_MARKER.sub("", sentence).strip()


def renumber_markers(text: str, numbers: dict[int, int]) -> str:
    """Citation markers mapped to other numbers ("[2]" -> "[4]"); a number not in `numbers` becomes 0,
    which cites nothing."""
    return MARKER.sub(lambda m: "[" + ", ".join(str(numbers.get(int(n), 0)) for n in m.group(1).split(",")) + "]", text)


def cited_markers(sentence: str) -> list[int]:
    """The citation numbers a sentence carries, in order, once each."""
    return sorted({int(n) for m in MARKER.findall(sentence) for n in m.split(",")})


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """The answer's sentences (at least three words), each with the citation numbers it carries."""
    out = []
    for raw in sentences((answer or "").strip()):
        plain = strip_markers(raw).strip()
        if len(re.findall(r"\w+", plain)) < 3:
            continue
        out.append((plain, cited_markers(raw)))
    return out


def hard_facts(sentence: str) -> list[tuple[str, str]]:
    """(kind, value) pairs that must appear in a supporting passage."""
    facts = [("number", n) for n in sorted(numbers_in(sentence))]
    facts += [("reference", m.group()) for m in REFERENCE.finditer(sentence)]
    facts += [("acronym", a) for a in sorted(set(ACRONYM.findall(sentence))) if len(a) >= 2]
    facts += [("word", w) for w in sorted(set(words(sentence)) & (NEGATIONS | MODALS))]
    facts += [("name", n) for n in sorted(set(NAME_FACT.findall(sentence))) if n.lower() not in STOPWORDS]
    return facts


_LABELS = {"number": "the number {}", "reference": "the reference '{}'", "acronym": "the acronym {}", "word": "the word '{}'",
           "name": "the name '{}'"}


@lru_cache(maxsize=256)
def _profile(passage: str) -> tuple[frozenset, frozenset, frozenset, str]:
    """What the checks read from a passage, computed once per passage text."""
    return frozenset(content_words(passage)), frozenset(numbers_in(passage)), frozenset(words(passage)), fold(passage)


def fact_present(kind: str, value: str, passage: str) -> bool:
    _, numbers, passage_words, folded = _profile(passage)
    if kind == "number":
        return value in numbers
    if kind == "acronym":
        return value in passage  # case-sensitive: acronyms are
    if kind in ("reference", "name"):
        return fold(value) in folded
    return value in passage_words or (value in NEGATIONS and bool(passage_words & NEGATIONS))


class LexicalSupportScorer:
    """Content-word recall plus hard facts; see the module docstring."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold

    def score(self, sentence: str, passage: str) -> Support:
        sentence = strip_markers(sentence)
        sent_words = content_words(sentence)
        passage_cw = _profile(passage)[0]
        if not sent_words:
            return Support(1.0, 1.0, supported=True)
        missing_words = [w for w in dict.fromkeys(sent_words) if w not in passage_cw]
        unique = set(sent_words)
        recall = 1 - len(set(missing_words)) / len(unique)
        missing_facts = [_LABELS[kind].format(value) for kind, value in hard_facts(sentence)
                         if not fact_present(kind, value, passage)]
        score = recall * (0.5 ** len(missing_facts))
        return Support(score, recall, missing_words, missing_facts,
                       supported=recall >= self.threshold and not missing_facts)


def best_support(scorer: SupportScorer, sentence: str, passages: list[str]) -> tuple[int | None, Support]:
    """The single passage that supports the sentence best (index, support); index None if there is none."""
    best_i, best = None, Support(0.0, 0.0)
    for i, passage in enumerate(passages):
        s = scorer.score(sentence, passage)
        if best_i is None or (s.supported, s.score) > (best.supported, best.score):
            best_i, best = i, s
    return best_i, best


def joint_support(scorer: SupportScorer, sentence: str, passages: list[str]) -> Support:
    """Support by several cited passages together (ALCE citation recall)."""
    if not passages:
        return Support(0.0, 0.0, supported=False)
    _, best = best_support(scorer, sentence, passages)
    if best.supported or len(passages) == 1:
        return best
    return scorer.score(sentence, "\n".join(passages))
