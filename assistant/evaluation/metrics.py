"""Deterministic evaluation metrics, on the support test the chain's grounding check uses (`answering/grounding.py`).

Per case (a gold case in the README's dataset format and the Answer the assistant gave):
- retrieval, against gold passages (a retrieved chunk "contains" a gold passage when its whitespace-
  and quote-normalised text includes it): hit@k (1 if any of the top k contains one), recall@k (share
  of gold passages contained in the top k), MRR (1 / rank of the first chunk that contains one, 0 if
  none) and nDCG@k (binary gains, a gold passage counted once, ideal = min(#gold, k) hits on top);
- citation validity: share of citations whose chunk was among the retrieved ones;
- citation recall (ALCE): share of answer sentences whose cited passages, together, support them
  (a sentence with no citation is not supported);
- citation precision (ALCE): share of citations that are precise: the passage alone supports its
  sentence, or the sentence's other citations without it no longer support it;
- groundedness: share of answer sentences that one retrieved passage alone supports (the best one);
- fact recall: share of the case's must-include facts present in the answer (any alternative);
- refusal: an answerable case refused is a false refusal, an unanswerable one answered a miss.
Edge cases, never NaN: a refusal has no answer metrics (None, left out of averages); an answer with no
sentence scores 0 on citation recall, precision and groundedness; an answer with no citation has
citation validity 1 (nothing invalid) but recall 0. Aggregates are means over the cases where a
metric is defined, with a percentile bootstrap confidence interval (seeded: the same run gives the
same interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from assistant.answering.grounding import SupportScorer, best_support, cited_sentences, joint_support
from assistant.language import fold

METRICS = {  # name: (plain-words formula, higher is better)
    "hit": ("share of answerable questions with a gold passage in the top k retrieved", True),
    "recall": ("share of a question's gold passages found in the top k, averaged", True),
    "mrr": ("1 / rank of the first retrieved chunk that holds a gold passage (0 if none), averaged", True),
    "ndcg": ("discounted gain of gold passages by rank, divided by the best possible", True),
    "citation_validity": ("share of citations pointing at a passage that was retrieved", True),
    "citation_recall": ("share of answer sentences that their cited passages, together, support", True),
    "citation_precision": ("share of citations whose passage supports its sentence alone or is needed for it", True),
    "groundedness": ("share of answer sentences that one retrieved passage alone supports", True),
    "fact_recall": ("share of must-include facts present in the answer", True),
    "unanswerable_refused": ("share of unanswerable and adversarial questions refused (true refusals)", True),
    "answerable_refused": ("share of answerable questions refused (false refusals)", False),
    "draft_groundedness": ("share of the raw draft's sentences that one retrieved passage alone supports, before the check", True),
    "dropped_sentences": ("share of the raw draft's sentences the check dropped as unsupported", False),
    "fallback_rate": ("share of drafted answers that fell back to extractive quoting or to a refusal after the check", False),
    "judge_groundedness": ("share of answer sentences that the independent judge finds stated by one retrieved passage", True),
    "judge_citation_precision": ("share of citations whose passage the independent judge finds stating its sentence", True),
}



def contains(text: str, passage: str) -> bool:
    return fold(passage) in fold(text)


# ---- retrieval ---------------------------------------------------------------------------------
def retrieval_scores(retrieved_texts: list[str], gold: list[str], k: int) -> dict:
    top = retrieved_texts[:k]
    ranks = [i for i, t in enumerate(top, 1) if any(contains(t, g) for g in gold)]
    found = {g for g in gold for t in top if contains(t, g)}
    gains, counted = [], set()
    for t in top:
        new = {g for g in gold if contains(t, g)} - counted
        gains.append(1.0 if new else 0.0)
        counted |= new
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return {"hit": 1.0 if ranks else 0.0, "recall": len(found) / len(gold) if gold else 0.0,
            "mrr": 1 / ranks[0] if ranks else 0.0, "ndcg": dcg / ideal if ideal else 0.0}


# ---- citations and grounding -----------------------------------------------------------------------
@dataclass
class SentenceCheck:
    n: int  # 1-based position in the answer
    text: str
    cited: list[int]
    supported_by_citations: bool
    grounded: bool
    precise: list[int] = field(default_factory=list)
    reason: str = ""


def check_sentences(answer: str, passages: dict[int, str], retrieved: list[str], scorer: SupportScorer) -> list[SentenceCheck]:
    """`passages` maps citation numbers to the cited texts; `retrieved` are all retrieved texts."""
    checks = []
    for i, (sentence, cited) in enumerate(cited_sentences(answer), start=1):
        valid = [n for n in cited if n in passages]
        texts = [passages[n] for n in valid]
        joint = joint_support(scorer, sentence, texts) if texts else None
        supported = bool(joint and joint.supported)
        precise = []
        for n in valid:
            alone = scorer.score(sentence, passages[n]).supported
            others = [passages[m] for m in valid if m != n]
            needed = supported and not (others and joint_support(scorer, sentence, others).supported)
            if alone or needed:
                precise.append(n)
        _, best = best_support(scorer, sentence, retrieved)
        reason = ""
        if not cited:
            reason = f"sentence {i} cites no passage"
        elif not supported:
            why = joint.reason() if joint else "the citation points at no retrieved passage"
            reason = f"sentence {i} is not supported by {''.join(f'[{n}]' for n in cited)}: {why}: “{sentence}”"
        checks.append(SentenceCheck(i, sentence, cited, supported, best.supported, precise, reason))
    return checks


def answer_scores(answer: dict, retrieved_texts: list[str], scorer: SupportScorer) -> tuple[dict, list[SentenceCheck]]:
    """Citation validity, recall and precision, and groundedness of one (not refused) answer."""
    retrieved_ids = set(answer.get("retrieved") or [])
    cites = answer.get("citations") or []
    passages = {c["n"]: c["text"] for c in cites}
    checks = check_sentences(answer.get("answer", ""), passages, retrieved_texts, scorer)
    valid = [c for c in cites if c.get("chunk_id") in retrieved_ids]
    n_citations = sum(len(c.cited) for c in checks)
    return {
        "citation_validity": len(valid) / len(cites) if cites else 1.0,
        "citation_recall": sum(c.supported_by_citations for c in checks) / len(checks) if checks else 0.0,
        "citation_precision": sum(len(c.precise) for c in checks) / n_citations if n_citations else 0.0,
        "groundedness": sum(c.grounded for c in checks) / len(checks) if checks else 0.0,
    }, checks


def fact_recall(answer: str, facts: list[list[str]]) -> tuple[float | None, list[str]]:
    """Share of fact groups with an alternative present in the answer; None when the case lists none."""
    if not facts:
        return None, []
    missing = [group[0] for group in facts if not any(contains(answer, alt) for alt in group)]
    return 1 - len(missing) / len(facts), missing


# ---- aggregation ---------------------------------------------------------------------------------
def mean_ci(values: list[float], resamples: int = 2000, level: float = 0.95, seed: int = 7) -> dict:
    """Mean and percentile bootstrap interval; n = 0 gives None values, never NaN."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "low": None, "high": None, "n": 0}
    import numpy as np

    arr = np.asarray(xs)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(resamples, len(arr)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"mean": round(float(arr.mean()), 4), "low": round(float(lo), 4), "high": round(float(hi), 4), "n": len(xs)}


def percentile(values: list[float], q: float) -> float | None:
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    import numpy as np

    return round(float(np.percentile(xs, q)), 1)
