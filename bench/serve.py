"""Serving benchmark on loopback, bounded in clients and time. Prints measured figures; asserts nothing.

- extractive: N concurrent users asking gold questions over POST /api/ask for S seconds: requests,
  errors, p50/p95 latency, throughput, the server's memory (RSS) at start and at the end.
- local: the same with the embedded model over POST /api/ask/stream (requests queue for the one model):
  time to first token p50/p95 as the users see it (queueing included), errors.
- page: page load to interactive chat in headless Chromium (Debian's), median of 3.
- feedback: W feedback writes over HTTP from T threads, then the rows counted in the database.
- upload: an instructor uploads a 20-page PDF over POST /api/documents on a private copy of knowledge/;
  the time from the upload's start until a question only that PDF answers is answered from it; then a
  second 20-page PDF uploaded while N users ask, with their errors and latency during the indexing.

Run: .venv/bin/python bench/serve.py [--scenarios extractive,local,page,feedback] [--clients 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CIMIC_VARS, cimic_server, indexed_env, rss_mib  # noqa: E402


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def server(backend: str, db: Path):
    """(url, context manager yielding the process) for `cimic serve` on the project's index."""
    env = {k: v for k, v in os.environ.items() if k not in CIMIC_VARS}
    env.update(CIMIC_LLM_BACKEND=backend, CIMIC_FEEDBACK_DB=f"sqlite:///{db}")
    return cimic_server(env)


def questions() -> list[str]:
    from assistant.evaluation.runner import load_dataset

    return [c.question for c in load_dataset(ROOT / "evals/datasets/gold.jsonl") if not c.history]


def load(url: str, clients: int, seconds: float, stream: bool, pid: int | None = None, headers: dict | None = None) -> dict:
    qs = questions()
    lat, ttft, errors, lock = [], [], [], threading.Lock()
    stop = time.time() + seconds
    memory = []

    def sample():
        while pid and time.time() < stop:
            memory.append(round(rss_mib(pid)))
            time.sleep(seconds / 6)

    threading.Thread(target=sample, daemon=True).start()

    def user(i):
        rnd = random.Random(i)
        with httpx.Client(timeout=600, headers=headers) as client:
            while time.time() < stop:
                q = rnd.choice(qs)
                t0 = time.perf_counter()
                try:
                    if stream:
                        first = None
                        with client.stream("POST", f"{url}/api/ask/stream", json={"question": q}) as r:
                            if r.status_code != 200:
                                raise RuntimeError(f"HTTP {r.status_code}")
                            for line in r.iter_lines():
                                if line.strip() and first is None:
                                    first = time.perf_counter() - t0
                                if '"type": "error"' in line:
                                    raise RuntimeError(line)
                        with lock:
                            ttft.append(first)
                    else:
                        r = client.post(f"{url}/api/ask", json={"question": q})
                        if r.status_code != 200:
                            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:100]}")
                    with lock:
                        lat.append(time.perf_counter() - t0)
                except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                    with lock:
                        errors.append(str(exc)[:120])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(user, range(clients)))
    wall = time.perf_counter() - t0
    return {"requests": len(lat), "errors": len(errors), "first_errors": errors[:3], "wall_s": round(wall, 1),
            "p50_s": round(pct(lat, 50), 3), "p95_s": round(pct(lat, 95), 3), "per_s": round(len(lat) / wall, 2),
            "ttft_p50_s": round(pct(ttft, 50), 2) if ttft else None, "ttft_p95_s": round(pct(ttft, 95), 2) if ttft else None,
            "memory_mib": memory}


def page_load(url: str) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for _ in range(3):
            page = b.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            page.locator("#question textarea").wait_for(state="visible")
            page.wait_for_function("!document.querySelector('#question textarea').disabled")
            times.append(time.perf_counter() - t0)
            page.close()
        b.close()
    return times


def feedback(url: str, db: Path, writes: int, threads: int) -> dict:
    before = sqlite3.connect(db).execute("select count(*) from feedback").fetchone()[0]
    body = {"rating": "down", "question": "bench question", "answer": "bench answer [1]"}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(lambda i: httpx.post(f"{url}/api/feedback", json={**body, "comment": str(i)}, timeout=120).status_code,
                              range(writes)))
    wall = time.perf_counter() - t0
    rows = sqlite3.connect(db).execute("select count(*) from feedback").fetchone()[0] - before
    return {"writes": writes, "threads": threads, "http_200": codes.count(200), "rows_added": rows, "wall_s": round(wall, 1)}


def twenty_pages(fact: str) -> bytes:
    """A 20-page PDF of running text (articles of the generalization corpus), `fact` on page 17."""
    from conftest import pdf_bytes

    corpus = sorted((ROOT.parent / "shared" / "generalization" / "squad2-dev" / "docs").glob("*.md"))
    words = " ".join(p.read_text(encoding="utf-8") for p in corpus[:3]).replace("#", "").split()
    pages = [" ".join(words[i * 450:(i + 1) * 450]) for i in range(20)]
    pages[16] = fact + " " + pages[16]
    return pdf_bytes(pages, "Bench report")


def searchable(url: str, headers: dict, question: str, expected: str, deadline: float) -> float | None:
    """Seconds until `question` is answered with `expected` in the answer, or None by the deadline."""
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        a = httpx.post(f"{url}/api/ask", json={"question": question}, headers=headers, timeout=60).json()
        if not a.get("refused") and expected in a.get("answer", ""):
            return time.perf_counter() - t0
        time.sleep(0.1)
    return None


def upload(clients: int, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cimic-bench-upload-"))
    env = indexed_env(tmp, CIMIC_AUTH_HEADER="X-Bench-User", CIMIC_INSTRUCTORS="instructor")  # a copy of knowledge/, indexed
    url, service = cimic_server(env)
    teacher, trainee = {"X-Bench-User": "instructor"}, {"X-Bench-User": "trainee"}
    with service:
        for round_, fact, question, expected, users in [
            (1, "The Halvorsen depot stored 9,314 blankets for the winter relief.",
             "How many blankets did the Halvorsen depot store?", "9,314", 0),
            (2, "The Brennick convoy carried 6,027 tents to the northern camps.",
             "How many tents did the Brennick convoy carry?", "6,027", clients)]:
            pdf = twenty_pages(fact)
            asked = {}
            if users:
                asking = threading.Thread(target=lambda: asked.update(load(url, users, seconds, stream=False, headers=trainee)))
                asking.start()
                time.sleep(2)
            t0 = time.perf_counter()
            r = httpx.post(f"{url}/api/documents", headers=teacher, timeout=120,
                           files={"file": (f"bench-{round_}.pdf", pdf, "application/pdf")})
            accepted = time.perf_counter() - t0
            took = searchable(url, trainee, question, expected, time.perf_counter() + 120)
            found = accepted + took if took is not None else None
            status = httpx.get(f"{url}/api/index/status", headers=teacher).json()
            outcome = next((j["outcome"] for j in status["recent"] if j["file"] == f"bench-{round_}.pdf"), "?")
            print(f"upload {round_}: a 20-page PDF ({len(pdf) / 1024:.0f} KiB; {outcome}): HTTP {r.status_code} in "
                  f"{accepted:.2f} s; searchable {found:.1f} s after the upload began" if found is not None else
                  f"upload {round_}: not searchable within 120 s ({outcome})", end="", flush=True)
            if users:
                asking.join()
                print(f"; meanwhile {users} users asked for {seconds:.0f} s: {asked['requests']} answers, "
                      f"{asked['errors']} errors {asked['first_errors'] or ''}, p50 {asked['p50_s']} s, p95 {asked['p95_s']} s",
                      flush=True)
            else:
                print(" (no other load)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default="extractive,local,page,feedback,upload")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--local-seconds", type=float, default=60)
    args = ap.parse_args()
    wanted = args.scenarios.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="cimic-bench-"))
    if {"extractive", "page", "feedback"} & set(wanted):
        url, service = server("extractive", tmp / "feedback.db")
        with service as proc:
            if "extractive" in wanted:
                start = rss_mib(proc.pid)
                r = load(url, args.clients, args.seconds, stream=False, pid=proc.pid)
                print(f"extractive: {args.clients} users for {args.seconds:.0f} s: {r['requests']} answers, {r['errors']} errors "
                      f"{r['first_errors'] or ''}, p50 {r['p50_s']} s, p95 {r['p95_s']} s, {r['per_s']}/s; "
                      f"server memory {start:.0f} MiB at start, {rss_mib(proc.pid):.0f} MiB at the end "
                      f"(during: {', '.join(map(str, r['memory_mib']))} MiB)", flush=True)
            if "page" in wanted:
                t = page_load(url)
                print(f"page load to interactive chat (headless Chromium): median {statistics.median(t):.2f} s "
                      f"(runs: {', '.join(f'{x:.2f}' for x in t)})", flush=True)
            if "feedback" in wanted:
                r = feedback(url, tmp / "feedback.db", 1000, 20)
                print(f"feedback: {r['writes']} writes from {r['threads']} threads in {r['wall_s']} s: "
                      f"{r['http_200']} answered 200, {r['rows_added']} rows in the database", flush=True)
    if "local" in wanted:
        url, service = server("local", tmp / "feedback-local.db")
        with service:
            r = load(url, args.clients, args.local_seconds, stream=True)
            print(f"local: {args.clients} users for {args.local_seconds:.0f} s (requests queue for the one model): "
                  f"{r['requests']} answers in {r['wall_s']} s, {r['errors']} errors {r['first_errors'] or ''}; "
                  f"time to first token p50 {r['ttft_p50_s']} s, p95 {r['ttft_p95_s']} s; whole answer p50 {r['p50_s']} s, "
                  f"p95 {r['p95_s']} s", flush=True)

    if "upload" in wanted:
        upload(args.clients, min(args.seconds, 30))


if __name__ == "__main__":
    main()
