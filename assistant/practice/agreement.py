"""How far the grader agrees with hand grades (`evals/practice/graded.jsonl`): Cohen's kappa, the
confusion matrix and the wrong answers it graded correct, per split. Read by `bench/practice.py` and
the tests. Each case carries its own question (text, key points, passage), so the figures do not move
when the question bank changes."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.practice.grading import GRADES, grade
from assistant.practice.questions import PracticeQuestion


def read_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def case_question(c: dict) -> PracticeQuestion:
    return PracticeQuestion(c["question_id"], c["kind"], c["question"], tuple(c["key_points"]), "", c["passage"], "", "", "")


def agreement(cases: list[dict]) -> dict:
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    if not cases:
        return {"cases": 0}
    hand = [c["grade"] for c in cases]
    auto = [grade(case_question(c), c["answer"]).grade for c in cases]
    wrong_correct = [c for c, a in zip(cases, auto) if a == "correct" and c["grade"] == "incorrect"]
    return {"cases": len(cases), "kappa": cohen_kappa_score(hand, auto, labels=list(GRADES)),
            "accuracy": sum(h == a for h, a in zip(hand, auto)) / len(cases),
            "confusion": confusion_matrix(hand, auto, labels=list(GRADES)).tolist(),
            "wrong_graded_correct": [c["answer"] for c in wrong_correct],
            "disagreements": [{"answer": c["answer"], "hand": h, "auto": a, "category": c.get("category")}
                              for c, h, a in zip(cases, hand, auto) if h != a]}


def by_split(cases: list[dict]) -> dict[str, dict]:
    return {name: agreement([c for c in cases if name == "all" or c.get("split") == name]) for name in ("dev", "test", "all")}
