"""How far the grader agrees with hand grades (`evals/practice/graded.jsonl`): Cohen's kappa, the
confusion matrix and the wrong answers it graded correct, per split. Read by `bench/practice.py`,
`cimic grader` and the tests. Each case carries its own question (text, key points, passage), so the
figures do not move when the question bank changes. The chat model's readings of the cases
(`readings.jsonl` beside them, written by `cimic grader --collect`) let the grader with a model be measured
and fitted (`grader.py`) without running the model again."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.practice.grading import GRADES, grade, word_signals
from assistant.practice.questions import PracticeQuestion

GRADED = Path(__file__).resolve().parents[2] / "evals" / "practice" / "graded.jsonl"
READINGS = GRADED.parent / "readings.jsonl"


def read_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def case_question(c: dict) -> PracticeQuestion:
    return PracticeQuestion(c["question_id"], c["kind"], c["question"], tuple(c["key_points"]), "", c["passage"], "", "", "")


def _key(c: dict) -> str:
    return f"{c['question_id']}\t{c['answer']}"


def collect_readings(chat_model, cases: list[dict], earlier: list[dict] = (), progress=None) -> list[dict]:
    """The model's reading of every case that has an answer (`model_check.model_reading`; slow: one call each). A
    reading in `earlier` by the same model of the answer as shown to it (`model_check.shown_answer`, kept in `shown`
    where it differs from the answer) is kept rather than read again, so that new hand grades, or a change in how
    answers are shown, need only theirs."""
    from assistant.practice.model_check import MAX_ANSWER_CHARS, model_reading, shown_answer
    from assistant.language import clean

    def plain(answer: str) -> str:  # what the model is shown of an answer that says no number in words
        return clean(answer)[:MAX_ANSWER_CHARS]

    kept = {(r["question_id"], r.get("shown") or plain(r["answer"])): r for r in earlier if r.get("model") == chat_model.name}
    out = []
    for i, c in enumerate(cases):
        text = clean(c["answer"])
        if text.strip():
            question = case_question(c)
            shown = shown_answer(question, text)
            out.append(kept.get((c["question_id"], shown)) or {
                "question_id": c["question_id"], "answer": c["answer"], "model": chat_model.name,
                "reading": model_reading(chat_model, question, text), **({"shown": shown} if shown != plain(text) else {})})
        if progress:
            progress(i + 1, len(cases))
    return out


def graded_rows(cases: list[dict], readings: list[dict]) -> list[dict]:
    """Each case's hand grade, its grade by the key points, what that was read from, and the model's reading
    (0.5, no opinion, for an empty answer, which the model is not asked about), with the features `grader.py` fits on."""
    from assistant.practice.grader import features

    by_key = {_key(r): r["reading"] for r in readings}
    rows = []
    for c in cases:
        graded, read = word_signals(case_question(c), c["answer"])
        reading = by_key.get(_key(c), 0.5)
        rows.append({"question_id": c["question_id"], "split": c.get("split"), "grade": c["grade"], "words": graded.grade,
                     "read": read, "reading": reading, "features": features(graded.grade, read, reading),
                     "answer": c["answer"], "category": c.get("category")})
    return rows


def agreement(cases: list[dict], auto: list[str] | None = None) -> dict:
    """Agreement of `auto` (default: the grade by the key points alone) with the cases' hand grades."""
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    if not cases:
        return {"cases": 0}
    hand = [c["grade"] for c in cases]
    auto = auto if auto is not None else [grade(case_question(c), c["answer"]).grade for c in cases]
    wrong_correct = [c for c, a in zip(cases, auto) if a == "correct" and c["grade"] == "incorrect"]
    return {"cases": len(cases), "kappa": cohen_kappa_score(hand, auto, labels=list(GRADES)),
            "accuracy": sum(h == a for h, a in zip(hand, auto)) / len(cases),
            "confusion": confusion_matrix(hand, auto, labels=list(GRADES)).tolist(),
            "wrong_graded_correct": [c["answer"] for c in wrong_correct],
            "disagreements": [{"answer": c["answer"], "hand": h, "auto": a, "category": c.get("category")}
                              for c, h, a in zip(cases, hand, auto) if h != a]}


def between_graders(cases: list[dict]) -> dict:
    """How far two instructors agree, on the cases a second one graded blind (`second_grade`): the ceiling a
    grader's kappa against the first one's grades can be read against."""
    both = [c for c in cases if c.get("second_grade")]
    return agreement(both, [c["second_grade"] for c in both])


def by_split(cases: list[dict]) -> dict[str, dict]:
    return {name: agreement([c for c in cases if name == "all" or c.get("split") == name]) for name in ("dev", "test", "all")}


def with_model(rows: list[dict], calibration) -> dict[str, dict[str, dict]]:
    """Per split, the grader by the key points alone and with the model's reading (`graded_rows`): on dev, each
    answer graded by a calibration fitted without its question (held out); on test, by `calibration` (the
    committed one, fitted on dev). A split with no answers (no test set between two blind sets) is left out."""
    from assistant.practice.grader import held_out_grades

    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    return {split: {"key points alone": agreement(mine, [r["words"] for r in mine]), "with the model's reading": agreement(mine, model)}
            for split, mine, model in (("dev", dev, held_out_grades(dev)),
                                       ("test", test, [calibration.decide(r["words"], r["read"], r["reading"]) for r in test]))
            if mine}


CHOICES_C = (0.1, 0.3, 1.0, 3.0)
CHOICES_FLOOR = (0.5, 0.55, 0.6, 0.65, 0.7)
MAX_WRONG_CORRECT = 2


def choose_calibration(dev: list[dict]) -> dict:
    """The rule that picks the grader's `C` and `FLOOR` (`grader.py`): each dev answer graded by a fit without its
    question, for each C and floor; the highest kappa with at most `MAX_WRONG_CORRECT` answers wrong by hand graded
    correct (ties: the smaller C, the higher floor). Returns the choice and every candidate's figures."""
    from assistant.practice.grader import held_out_grades

    tried = []
    for c in CHOICES_C:
        for floor in CHOICES_FLOOR:
            f = agreement(dev, held_out_grades(dev, c, floor))
            tried.append({"C": c, "floor": floor, "kappa": f["kappa"], "wrong_graded_correct": len(f["wrong_graded_correct"])})
    allowed = [t for t in tried if t["wrong_graded_correct"] <= MAX_WRONG_CORRECT] or tried
    best = max(allowed, key=lambda t: (round(t["kappa"], 6), -t["C"], t["floor"]))
    return {**best, "tried": tried}
