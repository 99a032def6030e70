"""Scale benchmark: the index at N chunks (default 20,000), embedded store and, with --server, a Chroma server.

The corpus is built from the generalization articles (`../shared/generalization/squad2-dev/docs`):
copies of each article with their paragraphs shuffled and their numbers shifted, one file per copy,
until the text is about N chunks long. Prints, measured in one run with the embedder loaded once (as in
the server):
- cold ingest: chunks/s and corpus characters/s, beside the textbook pipeline (LangChain's
  RecursiveCharacterTextSplitter 1000/200, sentence-transformers all-MiniLM-L6-v2 on torch, Chroma)
  on a share of the same files (--textbook-share; its throughput, not its total time, is compared);
- add one 4-chunk document, then delete it (ingest wall time; the retriever's refresh after it);
- disk use of the store after the add and the delete, against the store after the cold ingest;
- retrieval p50/p95 over 100 questions of the corpus (hybrid: BM25 + dense), and the same for the
  dense query alone;
- the memory of a `cimic serve` process (extractive) on the index after 40 questions;
and, with --server, cold ingest, add, delete and retrieval on a `chroma run` server.
Prints figures; asserts nothing. Run in the background, the machine otherwise quiet:

  .venv/bin/python bench/scale.py [--chunks 20000] [--textbook-share 0.1] [--server]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CIMIC_VARS, chroma_service, cimic_server, free_port, rss_mib  # noqa: E402

CORPUS = ROOT.parent / "shared" / "generalization" / "squad2-dev"
CHARS_PER_CHUNK = 850  # about what the chunker puts in a chunk of 200 word pieces
NOTE = ("# Harbour drill {n}\n\nThe harbour drill {n} brought {v} volunteers of the port authority together with the "
        "coast guard and the fire brigade.\n\nThe drill tested the evacuation of the ferry terminal, the water "
        "supply of the shelters and the radio links between the harbour master and the district crisis staff.\n\n"
        "Its lessons were sent to every district of the region: liaison officers must meet the mayors before a "
        "crisis, and the civil registers of vulnerable people must be shared in advance.\n")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def make_corpus(out: Path, chunks: int, seed: int = 3) -> int:
    """Write shuffled, varied copies of the corpus articles into `out`; returns the characters written."""
    rng = random.Random(seed)
    articles = []
    for p in sorted((CORPUS / "docs").glob("*.md")):
        text = p.read_text(encoding="utf-8")
        title, _, body = text.partition("\n")
        articles.append((title, [b for b in body.split("\n\n") if b.strip()]))
    out.mkdir(parents=True, exist_ok=True)
    written, copy = 0, 0
    while written < chunks * CHARS_PER_CHUNK:
        for k, (title, paras) in enumerate(articles):
            paras = paras[:]
            rng.shuffle(paras)
            shift = copy + 1
            paras = [re.sub(r"\b\d+\b", lambda m: str(int(m.group()) + shift), p) for p in paras]
            text = f"{title} (copy {copy})\n\n" + "\n\n".join(paras) + "\n"
            (out / f"copy{copy:03d}-{k:02d}.md").write_text(text, encoding="utf-8")
            written += len(text)
            if written >= chunks * CHARS_PER_CHUNK:
                break
        copy += 1
    return written


def textbook_ingest(files: list[Path]) -> tuple[int, int, float]:
    """LangChain's splitter 1000/200, MiniLM on torch, an embedded Chroma: (chunks, characters, seconds)."""
    import chromadb
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.index.embeddings import MiniLMEmbedder

    emb = MiniLMEmbedder()
    emb.embed(["warm up"])
    tmp = Path(tempfile.mkdtemp(prefix="cimic-textbook-"))
    t = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts, chars = [], 0
    for p in files:
        body = p.read_text(encoding="utf-8")
        chars += len(body)
        texts += splitter.split_text(body)
    col = chromadb.PersistentClient(path=str(tmp)).get_or_create_collection(
        "textbook", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    for i in range(0, len(texts), 256):
        part = texts[i:i + 256]
        col.add(ids=[str(i + k) for k in range(len(part))], documents=part, embeddings=emb.embed(part))
    secs = time.perf_counter() - t
    shutil.rmtree(tmp, ignore_errors=True)
    return len(texts), chars, secs


def questions(n: int = 100) -> list[str]:
    rows = [json.loads(x) for x in (CORPUS / "cases.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rng = random.Random(5)
    return [r["question"] for r in rng.sample(rows, n)]


def retrieval_times(settings, embedder) -> dict:
    from assistant.answering.pipeline import build_assistant

    assistant = build_assistant(settings.model_copy(update={"llm_backend": "extractive"}), embedder=embedder)
    r = assistant.retriever
    qs = questions()
    r.retrieve(qs[0], settings.top_k)
    hybrid, dense = [], []
    for q in qs:
        t = time.perf_counter()
        r.retrieve(q, settings.top_k)
        hybrid.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        r.store.query(embedder.embed([q])[0], settings.top_k)
        dense.append((time.perf_counter() - t) * 1000)
    return {"assistant": assistant, "hybrid_p50": pct(hybrid, 50), "hybrid_p95": pct(hybrid, 95),
            "dense_p50": pct(dense, 50), "dense_p95": pct(dense, 95)}


def add_and_delete(settings, embedder, assistant) -> dict:
    from assistant.ingest.indexer import ingest

    def ingest_and_refresh():
        """(the ingest's report, its seconds, the seconds of the retriever's refresh that follows)"""
        t = time.perf_counter()
        report = ingest(settings, embedder)
        took = time.perf_counter() - t
        t = time.perf_counter()
        assistant.retriever.refresh_if_changed()
        return report, took, time.perf_counter() - t

    note = settings.knowledge_dir / "zz-harbour-drill.md"
    note.write_text(NOTE.format(n=7, v=340), encoding="utf-8")
    added, add_s, refresh_add = ingest_and_refresh()
    found = any("340 volunteers" in p.chunk.text
                for p in assistant.retriever.retrieve("How many volunteers did harbour drill 7 bring?", 4).passages)
    note.unlink()
    removed, delete_s, refresh_delete = ingest_and_refresh()
    return {"add_s": add_s, "added": added.added, "delete_s": delete_s, "removed": removed.removed, "found": found,
            "refresh_add_s": refresh_add, "refresh_delete_s": refresh_delete}


def server_memory(settings) -> float:
    env = {k: v for k, v in __import__("os").environ.items() if k not in CIMIC_VARS}
    env.update(CIMIC_LLM_BACKEND="extractive", CIMIC_KNOWLEDGE_DIR=str(settings.knowledge_dir),
               CIMIC_STORE_DIR=str(settings.store_dir), CIMIC_FEEDBACK_DB=f"sqlite:///{settings.store_dir.parent / 'fb.db'}")
    if settings.chroma_url:
        env["CIMIC_CHROMA_URL"] = settings.chroma_url
    url, service = cimic_server(env)
    with service as proc:
        for q in questions(40):
            httpx.post(f"{url}/api/ask", json={"question": q}, timeout=120)
        return rss_mib(proc.pid)


def run(label: str, settings, embedder, corpus_chars: int, textbook: tuple | None) -> None:
    from assistant.ingest.indexer import ingest

    t = time.perf_counter()
    report = ingest(settings, embedder)
    cold = time.perf_counter() - t
    print(f"[{label}] cold ingest: {report.chunks} chunks from {report.documents} files in {cold:.0f} s = "
          f"{report.chunks / cold:.1f} chunks/s, {corpus_chars / cold / 1000:.1f} k characters/s")
    if textbook:
        n, chars, secs = textbook
        print(f"[{label}]   textbook pipeline, same run, {chars / 1000:.0f} k characters of the same files: {n} chunks in "
              f"{secs:.0f} s = {n / secs:.1f} chunks/s, {chars / secs / 1000:.1f} k characters/s -> ours is "
              f"{(corpus_chars / cold) / (chars / secs):.2f}x its characters/s, {(report.chunks / cold) / (n / secs):.2f}x its chunks/s")
    one_copy = du(settings.store_dir) if not settings.chroma_url else None
    times = retrieval_times(settings, embedder)
    print(f"[{label}] retrieval over {report.chunks} chunks: hybrid p50 {times['hybrid_p50']:.1f} ms, "
          f"p95 {times['hybrid_p95']:.1f} ms; dense query alone p50 {times['dense_p50']:.1f} ms, p95 {times['dense_p95']:.1f} ms")
    change = add_and_delete(settings, embedder, times["assistant"])
    print(f"[{label}] add one document ({change['added']} chunks): {change['add_s']:.2f} s, then the retriever's refresh "
          f"{change['refresh_add_s']:.2f} s (found after it: {change['found']}); delete it ({change['removed']} chunks): "
          f"{change['delete_s']:.2f} s, refresh {change['refresh_delete_s']:.2f} s")
    if one_copy:
        print(f"[{label}] disk: {du(settings.store_dir) / 2**20:.0f} MiB after the add and the delete, "
              f"{one_copy / 2**20:.0f} MiB after the cold ingest ({du(settings.store_dir) / one_copy:.2f}x)")
    times["assistant"].retriever.store.close()
    print(f"[{label}] `cimic serve` (extractive) memory after 40 questions: {server_memory(settings):.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=20_000)
    ap.add_argument("--textbook-share", type=float, default=0.1, help="share of the files the textbook pipeline indexes")
    ap.add_argument("--server", action="store_true", help="also measure a `chroma run` server")
    args = ap.parse_args()
    from assistant.config import Settings
    from assistant.index.embeddings import make_embedder

    tmp = Path(tempfile.mkdtemp(prefix="cimic-scale-"))
    docs = tmp / "knowledge"
    chars = make_corpus(docs, args.chunks)
    files = sorted(docs.glob("*.md"))
    print(f"corpus: {len(files)} files, {chars / 1e6:.1f} M characters (aimed at {args.chunks} chunks)")
    textbook = textbook_ingest(files[::max(1, round(1 / args.textbook_share))])
    settings = Settings(_env_file=None, knowledge_dir=docs, store_dir=tmp / "index", llm_backend="extractive")
    embedder = make_embedder(settings)
    embedder.embed(["warm up"])  # the server has its embedder loaded: model load is not an ingest's cost
    print(f"embedder: {embedder.name}")
    run("embedded", settings, embedder, chars, textbook)
    if args.server:
        port = free_port()
        with chroma_service(tmp / "chroma-data", port):
            server = settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{port}"})
            run("chroma server", server, embedder, chars, None)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
