"""Does a passage support a sentence? A deterministic lexical scorer, shared by the chain and the evals.

Support = content-word recall of the sentence against the passage, plus hard facts: every number,
date, article/paragraph reference and acronym in the sentence must appear in the passage, and so must
a negation or modal (not, must, may, shall). A sentence is supported when its recall reaches the
threshold and no hard fact is missing. The `SupportScorer` protocol lets an NLI model replace the
lexical scorer without touching the formulas. Leaves out: paraphrase and synonym detection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from assistant.text import MODALS, NEGATIONS, content_words, fold, words

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
_REF = re.compile(r"\b(?:art(?:icle)?s?|para(?:graph)?s?|§|annex|section|clause|chapter)\.?\s*[\w.\-]+", re.I)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9\-]*[A-Z0-9]\b")


def _numbers(text: str) -> set[str]:
    out = set()
    for m in _NUMBER.finditer(text):
        n = re.sub(r"[,\s]", "", m.group()).rstrip(".")
        if n:
            out.add(n)
    return out


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", sentence).strip()


def hard_facts(sentence: str) -> list[str]:
    facts = [f"the number {n}" for n in sorted(_numbers(sentence))]
    facts += [f"the reference '{m.group()}'" for m in _REF.finditer(sentence)]
    facts += [f"the acronym {a}" for a in sorted(set(_ACRONYM.findall(sentence))) if len(a) >= 2]
    ws = set(words(sentence))
    facts += [f"the word '{w}'" for w in sorted(ws & (NEGATIONS | MODALS))]
    return facts


def _fact_present(fact: str, passage: str, passage_numbers: set[str], passage_words: set[str]) -> bool:
    kind, _, value = fact.partition(" ")
    if fact.startswith("the number "):
        return fact[len("the number "):] in passage_numbers
    if fact.startswith("the acronym "):
        return fact[len("the acronym "):] in passage  # case-sensitive: acronyms are
    if fact.startswith("the reference "):
        return fold(fact[len("the reference '"):-1]) in fold(passage)
    if fact.startswith("the word "):
        w = fact[len("the word '"):-1]
        return w in passage_words or (w in NEGATIONS and bool(passage_words & NEGATIONS))
    return True


class LexicalSupportScorer:
    """Content-word recall plus hard facts; see the module docstring."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold

    def score(self, sentence: str, passage: str) -> Support:
        sentence = strip_markers(sentence)
        sent_words = content_words(sentence)
        passage_cw = set(content_words(passage))
        if not sent_words:
            return Support(1.0, 1.0, supported=True)
        missing_words = [w for w in dict.fromkeys(sent_words) if w not in passage_cw]
        unique = set(sent_words)
        recall = 1 - len(set(missing_words)) / len(unique)
        passage_numbers = _numbers(passage)
        passage_words = set(words(passage))
        missing_facts = [f for f in hard_facts(sentence) if not _fact_present(f, passage, passage_numbers, passage_words)]
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
