"""Answering benchmark over the gold questions, per split (dev: tuned on; test: only reported): retrieval
(gold among cited passages, MRR), facts present, refusals and latency per back-end, with the plain LangChain tutorial pipeline (1000/200 character splitter, Chroma,
MiniLM, top 4) as the retrieval baseline in the same run. Prints measured figures; asserts nothing.

Run: .venv/bin/python bench/answer.py [--backends extractive,local] [--dataset evals/datasets/gold.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation.metrics import contains, fact_recall, retrieval_scores  # noqa: E402


def contains_gold(text: str, gold: list[str]) -> bool:
    return any(contains(text, g) for g in gold)


def p50(xs):
    return statistics.median(xs) if xs else float("nan")


def baseline_hits(cases, embedder) -> tuple[float, float]:
    """LangChain tutorial pipeline: RecursiveCharacterTextSplitter(1000, 200), Chroma, MiniLM, top 4."""
    import chromadb
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = []
    for p in sorted((ROOT / "knowledge").glob("*.txt")):
        docs += splitter.split_text(p.read_text(encoding="utf-8"))
    client = chromadb.EphemeralClient()
    col = client.get_or_create_collection("baseline-bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    col.add(ids=[str(i) for i in range(len(docs))], documents=docs, embeddings=embedder.embed(docs))
    hits, rr = 0, []
    answerable = [c for c in cases if c["answerable"]]
    for c in answerable:
        q = c["question"] if not c.get("history") else f"{c['history'][-1][0]} {c['question']}"
        got = col.query(query_embeddings=embedder.embed([q]), n_results=4)["documents"][0]
        scores = retrieval_scores(got, c["gold"], 4)
        hits += scores["hit"]
        rr.append(scores["mrr"])
    return hits / len(answerable), sum(rr) / len(rr)


def run_backend(name, cases, settings, embedder):
    from assistant.answering.pipeline import build_assistant

    assistant = build_assistant(settings.model_copy(update={"llm_backend": name}), embedder=embedder)
    rows = []
    for c in cases:
        ans = assistant.ask(c["question"], c.get("history") or [])
        chunks = assistant.retriever.chunks
        retrieved_texts = [chunks[i].text for i in ans.retrieved if i in chunks]
        rows.append({
            "id": c["id"], "answerable": c["answerable"], "refused": ans.refused, "split": c.get("split", "dev"),
            "facts": fact_recall(ans.answer, c.get("facts") or [])[0] if c["answerable"] and not ans.refused else
            (0.0 if c["answerable"] and c.get("facts") else None),
            "cited_hit": c["answerable"] and any(contains_gold(x.text, c["gold"]) for x in ans.citations),
            "rr": retrieval_scores(retrieved_texts, c["gold"], settings.top_k)["mrr"] if c["answerable"] else 0.0,
            "retrieval_ms": ans.timings.get("retrieval_ms", 0), "ttft_ms": ans.timings.get("ttft_ms", 0),
            "latency_ms": ans.latency_ms, "notice": ans.notice, "answer": ans.answer,
        })
        print(f"  {name:10s} {c['id']:18s} refused={ans.refused!s:5s} hit={rows[-1]['cited_hit']!s:5s} "
              f"{ans.latency_ms:6d} ms  {ans.answer[:90]!r}", file=sys.stderr, flush=True)
    return rows


def summary(name, rows):
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    llm_rows = [r for r in ans if not r["refused"]]
    print(f"\n== back-end: {name} ({len(ans)} answerable, {len(una)} unanswerable/adversarial)")
    print(f"gold passage among cited passages: {sum(r['cited_hit'] for r in ans)}/{len(ans)} = {sum(r['cited_hit'] for r in ans) / len(ans):.1%}")
    print(f"MRR of gold among retrieved (top k): {sum(r['rr'] for r in ans) / len(ans):.3f}")
    facts = [r["facts"] for r in ans if r["facts"] is not None]
    print(f"facts present: {sum(facts) / len(facts):.3f} (refused answers count 0)" if facts else "facts present: -")
    print(f"unanswerable refused: {sum(r['refused'] for r in una)}/{len(una)}; answerable refused: {sum(r['refused'] for r in ans)}/{len(ans)}")
    print(f"retrieval p50 {p50([r['retrieval_ms'] for r in rows]):.1f} ms; time to first token p50 "
          f"{p50([r['ttft_ms'] for r in llm_rows]):.0f} ms; whole answer p50 {p50([r['latency_ms'] for r in llm_rows]):.0f} ms "
          f"(answered questions)")
    misses = [r["id"] for r in ans if not r["cited_hit"]]
    if misses:
        print("missed: " + ", ".join(misses))
    wrong = [r["id"] for r in una if not r["refused"]]
    if wrong:
        print("answered although it should refuse: " + ", ".join(wrong))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(ROOT / "evals" / "datasets" / "gold.jsonl"))
    ap.add_argument("--backends", default="extractive,local")
    args = ap.parse_args()
    cases = [json.loads(line) for line in Path(args.dataset).read_text(encoding="utf-8").splitlines() if line.strip()]

    from assistant.config import Settings
    from assistant.index.embeddings import make_embedder

    settings = Settings()
    embedder = make_embedder(settings)
    embedder.embed(["warm up"])
    t = time.perf_counter()
    hit, mrr = baseline_hits(cases, embedder)
    print(f"baseline (LangChain tutorial: 1000/200 splitter, Chroma, MiniLM, top 4): gold retrieved for {hit:.1%} "
          f"of answerable questions, MRR {mrr:.3f} ({time.perf_counter() - t:.0f} s)")
    for name in args.backends.split(","):
        rows = run_backend(name, cases, settings, embedder)
        for split in ("dev", "test"):
            summary(f"{name}, {split} split", [r for r in rows if r["split"] == split])


if __name__ == "__main__":
    main()
