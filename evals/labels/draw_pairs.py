"""Draw (sentence, passage) pairs for hand labelling from real answers of both back-ends.

Runs the assistant (extractive and local) on the gold set against `knowledge/` and on a sample of a
generalization corpus against its own documents, and writes unlabelled candidates, one JSON per line:
{"id", "source", "case", "split", "backend", "pairing", "sentence", "passage"}. Pairings:
- `cited`: a sentence of the final answer and a passage it cites;
- `dropped`: a draft sentence the chain's check dropped, with the retrieved passage closest to it;
- `other retrieved passage`: a kept sentence with a retrieved passage it does not cite (hard negatives);
- `changed number` / `changed name`: a kept sentence with one number or capitalised name replaced by
  one from another retrieved passage, against its cited passage (near misses, made here, labelled by hand).
The split follows the case: gold cases keep theirs; corpus cases take their article's split
(`gate_data.article_split`), so the judge's test half comes from articles its calibration never saw.
A labeller then reads each pair and adds `"supported": true|false` (and a `note` when the call is not
obvious). Not run by the tests; run once per label collection:

  .venv/bin/python evals/labels/draw_pairs.py --out var/label-candidates.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.grounding import cited_sentences  # noqa: E402

_NUM = re.compile(r"\b\d[\d,.]*\b")
_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,})*\b")


def perturb(sentence: str, others: list[str], rng: random.Random) -> tuple[str, str] | None:
    """The sentence with one number or one name swapped for one found in other passages."""
    nums = _NUM.findall(sentence)
    if nums:
        pool = [n for t in others for n in _NUM.findall(t) if n not in nums]
        if pool:
            old = rng.choice(nums)
            return sentence.replace(old, rng.choice(pool), 1), "changed number"
    names = [n for n in _NAME.findall(sentence) if sentence.find(n) > 0]
    pool = [n for t in others for n in _NAME.findall(t) if n not in sentence]
    if names and pool:
        return sentence.replace(rng.choice(names), rng.choice(pool), 1), "changed name"
    return None


def pairs_for(answer, texts: dict[str, str], case, source: str, backend: str, rng: random.Random) -> list[dict]:
    base = {"source": source, "case": case.id, "split": case.split, "backend": backend}
    retrieved = [texts[i] for i in answer.retrieved if i in texts]
    out = []
    if not answer.refused:
        cites = {c.n: c.text for c in answer.citations}
        for sentence, cited in cited_sentences(answer.answer):
            for n in cited[:1]:
                out.append({**base, "pairing": "cited", "sentence": sentence, "passage": cites[n]})
                other = [t for t in retrieved if t not in cites.values()]
                if other:
                    out.append({**base, "pairing": "other retrieved passage", "sentence": sentence, "passage": other[0]})
                bent = perturb(sentence, [t for t in retrieved if t != cites[n]], rng)
                if bent:
                    out.append({**base, "pairing": bent[1], "sentence": bent[0], "passage": cites[n]})
    for sentence in answer.unsupported:
        words = set(re.findall(r"\w+", sentence.lower()))
        best = max(retrieved, key=lambda t: len(words & set(re.findall(r"\w+", t.lower()))), default=None)
        if best:
            out.append({**base, "pairing": "dropped", "sentence": sentence, "passage": best})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "generalization" / "squad2-dev"))
    ap.add_argument("--per-article", type=int, default=4)
    ap.add_argument("--gold-local", type=int, default=60, help="gold cases run on the local model")
    ap.add_argument("--out", default="var/label-candidates.jsonl")
    args = ap.parse_args()
    from assistant.answering.gate_data import corpus_cases
    from assistant.chain import assistant_over, build_assistant
    from assistant.config import Settings
    from assistant.embeddings import make_embedder
    from assistant.evaluation import load_dataset, sample
    from assistant.llm.base import make_chat_model

    rng = random.Random(11)
    settings = Settings()
    embedder = make_embedder(settings)
    local = make_chat_model(settings.model_copy(update={"llm_backend": "local"}))
    gold = [c for c in load_dataset(ROOT / "evals" / "datasets" / "gold.jsonl") if c.answerable]
    corpus = Path(args.corpus)
    squad = [c for c in corpus_cases(corpus, args.per_article) if c.answerable]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cimic-labels-") as tmp:
        for name, model in (("extractive", None), ("local", local)):
            here = build_assistant(settings.model_copy(update={"llm_backend": "extractive" if model is None else "local"}),
                                   embedder=embedder, chat_model=model)
            there = assistant_over(settings, corpus / "docs", Path(tmp) / "store", embedder, model)
            for assistant, cases, source in ((here, gold if model is None else sample(gold, args.gold_local), "gold"),
                                             (there, squad, corpus.name)):
                texts = {i: c.text for i, c in assistant.retriever.chunks.items()}
                for k, case in enumerate(cases):
                    answer = assistant.ask(case.question, case.history)
                    rows += pairs_for(answer, texts, case, source, name, rng)
                    print(f"\r{name} {source} {k + 1}/{len(cases)} pairs {len(rows)}", end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
    seen, unique = set(), []
    for r in rows:
        key = (r["sentence"], r["passage"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    for i, r in enumerate(unique):
        r["id"] = f"p{i:04d}"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique), encoding="utf-8")
    print(f"{len(unique)} candidate pairs -> {args.out}")


if __name__ == "__main__":
    main()
