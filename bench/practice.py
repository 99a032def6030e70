"""Tutor-mode figures. Prints; asserts nothing.

- The question bank built from the project's index: questions per kind, and the share whose key points
  are verbatim in their passage and not given away by the question (both must be 100%).
- How far two instructors agree where a second one graded the same answers blind (the test split's
  `second_grade`): the ceiling the grader's kappa can be read against.
- The grader against the hand grades in evals/practice/graded.jsonl: Cohen's kappa, accuracy and the
  confusion matrix (rows: hand; columns: grader; correct, partial, incorrect) on the dev split (what
  the grader was tuned on) and the test split (not tuned on); wrong answers graded correct. By the
  key points alone (the extractive back-end), and with the chat model's readings of the same answers
  (evals/practice/readings.jsonl, `cimic grader --collect`): dev held out by question, test by the committed
  calibration.
- Time to the first question (a new session, bank already built) and to a grade, p50/p95 over 50 runs,
  and the time to build the bank once for an index generation. With the model, the grade's time over 30
  different questions (none in the model's prompt cache): half answered after the question's prompt was
  read ahead (`Grader.prepare`, as while a trainee types), half answered at once.

Run: .venv/bin/python bench/practice.py [--with-model]  (the grade's time with the local model's reading too)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation import practice_agreement as agreement  # noqa: E402
from assistant.practice.grader import Grader, load  # noqa: E402


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def main() -> None:
    from assistant.answering.pipeline import build_assistant
    from assistant.config import Settings
    from assistant.practice.questions import QuestionBank, leaks
    from assistant.practice.tutor import Tutor

    cases = agreement.read_cases(agreement.GRADED)
    rows = agreement.graded_rows(cases, agreement.read_cases(agreement.READINGS))
    two = agreement.between_graders(cases)
    if two["cases"]:
        print(f"two instructors grading blind, on the {two['cases']} answers both graded: kappa {two['kappa']:.3f}, "
              f"agreement {two['accuracy']:.3f}")
    for split, table in agreement.with_model(rows, load()).items():
        for by, f in table.items():
            print(f"grader ({by}) vs hand grades, {split}{' (held out)' if split == 'dev' and by != 'key points alone' else ''}: "
                  f"{f['cases']} cases, kappa {f['kappa']:.3f}, accuracy {f['accuracy']:.3f}, "
                  f"confusion (hand rows x grader columns: correct, partial, incorrect) {f['confusion']}; "
                  f"wrong answers graded correct: {len(f['wrong_graded_correct'])}")
            if split == "test":
                for d in f["disagreements"]:
                    print(f"  test disagreement ({d['category']}): hand {d['hand']}, grader {d['auto']}: {d['answer'][:90]!r}")

    assistant = build_assistant(Settings(llm_backend="extractive"))
    bank = QuestionBank(assistant.retriever)
    t0 = time.perf_counter()
    questions = bank.questions()
    built = time.perf_counter() - t0
    ok = sum(all(p in q.passage for p in q.key_points) and not any(leaks(q.text, p) for p in q.key_points) for q in questions)
    print(f"question bank: {len(questions)} questions from {assistant.retriever.count()} chunks in {built * 1000:.0f} ms "
          f"({dict(Counter(q.kind for q in questions))}); key points verbatim and not given away: {ok}/{len(questions)}")

    with tempfile.TemporaryDirectory() as tmp:
        tutor = Tutor(bank, f"sqlite:///{tmp}/practice.db", grader=Grader())
        first, graded = [], []
        for i in range(50):
            t0 = time.perf_counter()
            s = tutor.start(f"bench-{i}", None, 5)
            first.append(time.perf_counter() - t0)
            q = bank.get(s["question"]["id"])
            t0 = time.perf_counter()
            tutor.answer(f"bench-{i}", s["session_id"], " ".join(q.key_points[:1]))
            graded.append(time.perf_counter() - t0)
    print(f"key points alone: first question shown: {timing(first)}; grade: {timing(graded)} (50 sessions, SQLite)")
    if "--with-model" in sys.argv:  # the local model's reading too (loads the model: about 1 GB, a minute)
        from assistant.llm.base import make_chat_model

        grader = Grader(make_chat_model(Settings(llm_backend="local")))
        spread = questions[::max(1, len(questions) // 30)][:30]  # 30 different questions: none is in the prompt cache yet
        with tempfile.TemporaryDirectory() as tmp:
            tutor = Tutor(bank, f"sqlite:///{tmp}/practice.db", grader=grader)
            at_once, after = [], []
            for i, q in enumerate(spread):
                s = tutor.start(f"bench-model-{i}", again=[q.id])
                if i % 2:  # the trainee types for longer than the read-ahead takes
                    grader.last_ahead.result()
                t0 = time.perf_counter()
                tutor.answer(f"bench-model-{i}", s["session_id"], " ".join(q.key_points[:1]))
                (after if i % 2 else at_once).append(time.perf_counter() - t0)
        print(f"with the local model's reading: grade when answered after the question's prompt was read ahead: "
              f"{timing(after)}; answered at once (the grade waits for the read-ahead): {timing(at_once)} "
              f"({len(spread) // 2} different questions each)")


def timing(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1000:.0f} ms, p95 {pct(xs, 95) * 1000:.0f} ms"


if __name__ == "__main__":
    main()
