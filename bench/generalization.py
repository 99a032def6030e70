"""Generalization benchmark: the assistant on a corpus nobody tuned it on, beside the textbook pipeline.

Indexes a corpus in the layout of `../shared/generalization/squad2-dev` (`docs/*.md`, `cases.jsonl` with
an `article` per case) into a temporary store and prints, in one run, for the extractive and the local
back-end (every case of the articles by default, local on a fixed sample of them):
- retrieval: a retrieved chunk (top k) holds an expected answer and lies inside the answer's paragraph;
- gold passage cited: the same, for a cited passage;
- answerable refused; expected answer present (one of the crowd answers, normalised as SQuAD does:
  lower case, no punctuation, no articles, appears in the answer); look-alike unanswerables refused;
- latency p50 (and time to first token for local);
and the textbook LangChain pipeline's retrieval on the same corpus (RecursiveCharacterTextSplitter
1000/200, Chroma, MiniLM, top 4). Only the test articles are used by default (the gate was fitted on
the dev articles, every case of them for the extractive drafter: see `assistant/answering/gate_data.py`).
Prints figures; asserts nothing.

Run: .venv/bin/python bench/generalization.py [--corpus ../shared/generalization/squad2-dev]
     [--per-article N (default every case)] [--local-sample 150] [--backends extractive,local] [--split test]
"""

from __future__ import annotations

import argparse
import re
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def squad_norm(text: str) -> str:
    """SQuAD's answer normalisation: lower case, punctuation and articles removed, whitespace collapsed."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def words(text: str) -> list[str]:
    return squad_norm(text).split()


def paragraphs(docs: Path) -> list[str]:
    out = []
    for p in sorted(docs.glob("*.md")):
        out += [b.strip() for b in p.read_text(encoding="utf-8").split("\n\n") if b.strip() and not b.startswith("# ")]
    return out


def answer_paragraph(case, paras: list[str]) -> str | None:
    gold = " ".join(case.gold[0].split()) if case.gold else ""
    return next((p for p in paras if gold and gold in " ".join(p.split())), None)


def holds_answer(passage: str, case, paragraph: str | None) -> bool:
    """The passage lies inside the answer's paragraph (80% of its words) and contains an expected answer."""
    if paragraph is None:
        return False
    pw, inside = words(passage), set(words(paragraph))
    if not pw or sum(w in inside for w in pw) / len(pw) < 0.8:
        return False
    norm = f" {squad_norm(passage)} "
    return any(f" {squad_norm(a)} " in norm for alts in case.facts for a in alts if squad_norm(a))


def answer_present(answer: str, case) -> bool:
    norm = f" {squad_norm(answer)} "
    return any(f" {squad_norm(a)} " in norm for alts in case.facts for a in alts if squad_norm(a))


def textbook_retrieval(docs: Path, cases, paras, embedder) -> float:
    import chromadb
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = []
    for p in sorted(docs.glob("*.md")):
        chunks += splitter.split_text(p.read_text(encoding="utf-8"))
    col = chromadb.EphemeralClient().get_or_create_collection("textbook", embedding_function=None,
                                                              configuration={"hnsw": {"space": "cosine"}})
    col.add(ids=[str(i) for i in range(len(chunks))], documents=chunks, embeddings=embedder.embed(chunks))
    answerable = [c for c in cases if c.answerable]
    hits = 0
    for c in answerable:
        got = col.query(query_embeddings=embedder.embed([c.question]), n_results=4)["documents"][0]
        hits += any(holds_answer(g, c, paras[c.id]) for g in got)
    return hits / len(answerable)


def run(assistant, cases, paras) -> list[dict]:
    chunks = assistant.retriever.chunks
    rows = []
    for c in cases:
        a = assistant.ask(c.question)
        retrieved = [chunks[i].text for i in a.retrieved if i in chunks]
        rows.append({"answerable": c.answerable, "refused": a.refused,
                     "retrieved_hit": c.answerable and any(holds_answer(t, c, paras[c.id]) for t in retrieved),
                     "cited_hit": c.answerable and any(holds_answer(x.text, c, paras[c.id]) for x in a.citations),
                     "present": c.answerable and answer_present(a.answer, c) and not a.refused,
                     "latency_ms": a.latency_ms, "ttft_ms": a.timings.get("ttft_ms", 0),
                     "retrieval_ms": a.timings.get("retrieval_ms", 0)})
    return rows


def p50(xs):
    return statistics.median(xs) if xs else float("nan")


def report(name: str, rows: list[dict]) -> None:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    share = lambda rs, k: sum(r[k] for r in rs) / len(rs) if rs else float("nan")  # noqa: E731
    print(f"\n== {name}: {len(ans)} answerable, {len(una)} look-alike unanswerable")
    print(f"retrieval finds the answer's passage (top 4): {share(ans, 'retrieved_hit'):.3f}")
    print(f"gold passage cited:                           {share(ans, 'cited_hit'):.3f}")
    print(f"answerable refused:                           {share(ans, 'refused'):.3f}")
    print(f"expected answer present:                      {share(ans, 'present'):.3f}")
    print(f"look-alike unanswerables refused:             {share(una, 'refused'):.3f}")
    print(f"p50: retrieval {p50([r['retrieval_ms'] for r in rows]):.1f} ms, first token {p50([r['ttft_ms'] for r in rows]):.0f} ms, "
          f"whole answer {p50([r['latency_ms'] for r in rows]):.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "generalization" / "squad2-dev"))
    ap.add_argument("--per-article", type=int, default=0, help="cases per article, half unanswerable (0: every case)")
    ap.add_argument("--local-sample", type=int, default=150)
    ap.add_argument("--backends", default="extractive,local")
    ap.add_argument("--split", default="test", choices=["dev", "test", "both"])
    args = ap.parse_args()

    from assistant.evaluation.gate_data import _thin, corpus_cases
    from assistant.answering.pipeline import assistant_over
    from assistant.config import Settings
    from assistant.index.embeddings import make_embedder
    from assistant.llm.base import make_chat_model

    corpus = Path(args.corpus)
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    cases = corpus_cases(corpus, args.per_article or None, splits)
    all_paras = paragraphs(corpus / "docs")
    paras = {c.id: answer_paragraph(c, all_paras) for c in cases}
    settings = Settings()
    embedder = make_embedder(settings)
    embedder.embed(["warm up"])
    print(f"corpus {corpus.name}, {args.split} articles: {len(cases)} cases "
          f"({sum(c.answerable for c in cases)} answerable)")
    t = time.perf_counter()
    print(f"textbook LangChain pipeline (1000/200 splitter, Chroma, MiniLM, top 4): answer's passage retrieved for "
          f"{textbook_retrieval(corpus / 'docs', cases, paras, embedder):.3f} of answerable ({time.perf_counter() - t:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="cimic-generalization-") as tmp:
        for name in args.backends.split(","):
            model = make_chat_model(settings.model_copy(update={"llm_backend": name})) if name != "extractive" else None
            here = settings.model_copy(update={"llm_backend": name})
            t = time.perf_counter()
            assistant = assistant_over(here, corpus / "docs", Path(tmp) / "store", embedder, model)
            mine = cases if name == "extractive" else _thin(cases, args.local_sample)
            print(f"\n{name}: indexed {assistant.retriever.count()} chunks ({time.perf_counter() - t:.0f} s)", flush=True)
            report(name, run(assistant, mine, paras))


if __name__ == "__main__":
    main()
