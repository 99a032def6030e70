"""The labelled signals the answer gate is fitted on, collected by running the assistant with the gate open.

Two sources, each with a dev part (fitted on) and a test part (only reported):
- the doctrine cases against `knowledge/`, each with its own `split`: the gold set (`evals/datasets/gold.jsonl`)
  and its rewordings as trainees type them (`evals/datasets/reworded.jsonl`: lower case, typos, other words);
- a generalization corpus in the layout of `../shared/generalization/squad2-dev` (`docs/`, `cases.jsonl`
  with an `article` per case), indexed into a temporary store. Its articles are split, not its
  questions: in alphabetical order, the 1st, 3rd, 5th ... article is dev and the others test, so the
  test articles are never seen while fitting. A fixed, seeded sample of cases is taken per article,
  half answerable and half not.
Every row: {"source", "id", "split", "kind" ("extractive" or "llm"), "answerable", "signals"}.
Leaves out: the fitting itself (`gate.py`).
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from assistant.answering.gate import OpenGate
from assistant.evaluation.runner import Case, load_dataset


def article_split(articles: list[str]) -> dict[str, str]:
    return {a: ("dev" if i % 2 == 0 else "test") for i, a in enumerate(sorted(set(articles)))}


def corpus_cases(corpus: Path, per_article: int, splits=("dev", "test"), seed: int = 13) -> list[Case]:
    """A fixed sample of a generalization corpus's cases, `per_article` per article (half unanswerable)."""
    raw = [json.loads(x) for x in (corpus / "cases.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    split = article_split([r["article"] for r in raw])
    rng = random.Random(seed)
    out = []
    for article in sorted(split):
        if split[article] not in splits:
            continue
        for answerable in (True, False):
            group = [r for r in raw if r["article"] == article and r["answerable"] == answerable]
            for r in rng.sample(group, min(len(group), per_article // 2)):
                out.append(Case(r["id"], r["question"], r["answerable"], r.get("gold") or [], r.get("facts") or [],
                                [], r.get("kind", "answerable" if answerable else "unanswerable"), split[article]))
    return out


def rows_for(assistant, cases: list[Case], source: str, progress=None) -> list[dict]:
    rows = []
    for i, case in enumerate(cases):
        answer = assistant.ask(case.question, case.history)
        rows.append({"source": source, "id": case.id, "split": case.split, "kind": assistant.kind,
                     "answerable": case.answerable, "signals": answer.gate["signals"]})
        if progress:
            progress(i + 1, len(cases))
    return rows


def collect(settings, embedder, gold: list[Path], corpus: Path | None, per_article: int, llm_sample: int,
            chat_model=None, progress=None) -> list[dict]:
    """Signals for the extractive drafter on every doctrine case (the gold set and its rewordings, one source)
    and the corpus sample, and, with a chat model, for the llm drafter on the same cases (the corpus sample
    thinned to `llm_sample` cases)."""
    from assistant.answering.pipeline import assistant_over, build_assistant

    gold_cases = [case for path in gold for case in load_dataset(path)]
    corpus_sample = corpus_cases(corpus, per_article) if corpus else []
    rows = []
    with tempfile.TemporaryDirectory(prefix="cimic-gate-") as tmp:
        for model in ([None, chat_model] if chat_model is not None else [None]):
            here = build_assistant(settings.model_copy(update={"llm_backend": "extractive" if model is None else settings.llm_backend}),
                                   embedder=embedder, chat_model=model, gate=OpenGate())
            rows += rows_for(here, gold_cases, "gold", progress)
            if corpus:
                there = assistant_over(settings, corpus / "docs", Path(tmp) / "store", embedder, model, OpenGate())
                cases = corpus_sample if model is None else _thin(corpus_sample, llm_sample)
                rows += rows_for(there, cases, corpus.name, progress)
    return rows


def _thin(cases: list[Case], n: int) -> list[Case]:
    if n >= len(cases):
        return cases
    step = len(cases) / n
    return [cases[int(i * step)] for i in range(n)]
