"""Ingest benchmark: cold ingest of knowledge/ (model load included), re-ingest with nothing changed,
and embedding throughput with peak memory on a generated corpus of 2,000 chunks.

Prints measured figures; asserts nothing. Run: .venv/bin/python bench/ingest.py
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CIMIC = [sys.executable, "-m", "assistant.cli"]


def run_ingest(env) -> tuple[float, dict]:
    t = time.perf_counter()
    out = subprocess.run(CIMIC + ["ingest", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, json.loads(out.stdout)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cimic-bench-"))
    env = dict(os.environ, CIMIC_KNOWLEDGE_DIR=str(ROOT / "knowledge"), CIMIC_STORE_DIR=str(tmp / "index"))
    wall, report = run_ingest(env)
    print(f"cold ingest of knowledge/ (fresh process, model load included): {wall:.1f} s wall, "
          f"{report['seconds']:.1f} s inside ingest; {report['documents']} documents, {report['chunks']} chunks")
    wall, report = run_ingest(env)
    print(f"re-ingest, nothing changed: {wall:.2f} s wall, {report['seconds']:.3f} s inside ingest, {report['added']} embedded")

    from assistant.config import Settings
    from assistant.index.embeddings import make_embedder

    rng = random.Random(7)
    words = (ROOT / "knowledge" / "000_6768f1f45eb71369.txt").read_text(encoding="utf-8").split()
    corpus = [" ".join(rng.choice(words) for _ in range(rng.randint(60, 160))) for _ in range(2000)]
    emb = make_embedder(Settings())
    emb.embed(["warm up"])
    t = time.perf_counter()
    for i in range(0, len(corpus), 32):
        emb.embed(corpus[i:i + 32])
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"embedding throughput: 2000 generated chunks (60-160 words) in {secs:.1f} s = {2000 / secs:.0f} chunks/s; "
          f"peak RSS {peak:.0f} MiB")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
