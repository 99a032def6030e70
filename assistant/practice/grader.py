"""The grade of a practice answer: the key points and fact checks (`grading.py`), and, where a chat model
exists, its one-token reading of the answer (`model_check.py`), combined by one calibrated decision.

The decision is a multinomial logistic regression over the chat model's reading (as log-odds), the shares of the
key points found and partly found, whether something contradicts the passage or is not in it, and the grade by
the key points, fitted on the dev split of the hand grades (`evals/practice/graded.jsonl`) with the model's
readings of them (`evals/practice/readings.jsonl`); its parameters live in `fitted/grader.json` and are refitted
by `cimic grader` (`--collect` reads the model again first). Two things the model cannot override: an answer that
holds none of the key points (not even partly), and one the support check finds contradicting the passage, are
incorrect; "correct" needs the regression's probability of it to reach `FLOOR`, otherwise the answer is partial.
`C` and `FLOOR` were chosen by 5-fold cross-validation on the dev hand grades, the folds split by question
(of C 0.1, 0.3, 1, 3 and floors 0.5-0.7 in steps of 0.05; `practice_agreement.choose_calibration`): the highest
held-out kappa with at most 2 of the dev answers wrong by hand graded correct (sets 1-7: C 0.1, floor 0.7, kappa
0.651; sets 1-8 with the grading of issue 30: C 3, floor 0.7, kappa 0.655, the best kappa, 0.672, grading 4 wrong
answers correct; sets 1-10 with years said in words and estimates read: C 0.3, floor 0.7, kappa 0.628; the same
with the model shown those numbers in digits too, `model_check.shown_answer`: C 1, floor 0.7, kappa 0.632).

Without a chat model (the `extractive` back-end), or when it cannot be reached, the grade is the key points'
alone. `Grader.prepare(question)`, called when a question is shown, reads the prompt's fixed part ahead in one
background worker (`model_check.prepare`), at most `AHEAD` questions waiting, so that a class starting together
does not queue minutes of model time in front of the chat. Leaves out: the word matching (`grading.py`), the
prompt (`model_check.py`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from assistant.errors import BackendUnavailable, ConfigError
from assistant.practice.grading import GRADES, Grade, word_signals
from assistant.practice.model_check import model_reading, prepare
from assistant.practice.questions import PracticeQuestion
from assistant.language import clean

_log = logging.getLogger(__name__)
FEATURES = ("model", "found", "partly", "contradicted", "wrong", "words_correct", "words_partial")
C = 1.0
FLOOR = 0.7
FOLDS = 5
AHEAD = 2  # questions whose prompt waits to be read ahead; more are not read ahead
FITTED = Path(str(resources.files("assistant") / "practice" / "fitted" / "grader.json"))


def settled(read: dict[str, float]) -> bool:
    """Incorrect whatever the model reads: no key point, not even partly (an empty or given-up answer, an
    instruction to the grader), or a contradiction of the passage the support check found."""
    return bool(read["contradicted"]) or not (read["found"] or read["partly"])


def features(words: str, read: dict[str, float], reading: float) -> dict[str, float]:
    """What the calibration reads: the model's reading as log-odds, `grading.word_signals`' reading, and the grade by
    the key points (`words`)."""
    p = min(max(reading, 1e-4), 1 - 1e-4)
    return {"model": math.log(p / (1 - p)), **read,
            "words_correct": float(words == "correct"), "words_partial": float(words == "partial")}


@dataclass(frozen=True)
class Calibration:
    coef: tuple[tuple[float, ...], ...]  # one row per grade, in GRADES order
    intercept: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    floor: float = FLOOR

    def probabilities(self, values: dict[str, float]) -> dict[str, float]:
        x = [(values[f] - m) / s for f, m, s in zip(FEATURES, self.mean, self.scale)]
        z = [b + sum(c * v for c, v in zip(row, x)) for row, b in zip(self.coef, self.intercept)]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        return {g: v / sum(e) for g, v in zip(GRADES, e)}

    def decide(self, words: str, read: dict[str, float], reading: float) -> str:
        if settled(read):
            return "incorrect"
        p = self.probabilities(features(words, read, reading))
        best = max(GRADES, key=p.get)
        return "partial" if best == "correct" and p["correct"] < self.floor else best


def fit(rows: list[dict], c: float | None = None, floor: float | None = None) -> Calibration:
    """The regression on rows of {"features": {...}, "grade": hand grade}, every grade weighing the same (`C` and
    `FLOOR` unless given)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["features"][f] for f in FEATURES] for r in rows], dtype=float)
    y = np.array([GRADES.index(r["grade"]) for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C if c is None else c, max_iter=2000).fit((x - mean) / scale, y)
    if list(lr.classes_) != [0, 1, 2]:
        raise ConfigError("the grader cannot be fitted: the dev hand grades need correct, partial and incorrect answers")
    return Calibration(tuple(tuple(float(v) for v in row) for row in lr.coef_), tuple(float(b) for b in lr.intercept_),
                       tuple(float(m) for m in mean), tuple(float(s) for s in scale), FLOOR if floor is None else floor)


def held_out_grades(rows: list[dict], c: float | None = None, floor: float | None = None) -> list[str]:
    """Each row's grade from a calibration fitted without its question (`FOLDS` folds grouped by question)."""
    from sklearn.model_selection import GroupKFold

    out = [""] * len(rows)
    groups = [r["question_id"] for r in rows]
    for train, held in GroupKFold(min(FOLDS, len(set(groups)))).split(rows, groups=groups):
        cal = fit([rows[i] for i in train], c, floor)
        for i in held:
            out[i] = cal.decide(rows[i]["words"], rows[i]["read"], rows[i]["reading"])
    return out


def save(cal: Calibration, path: Path, meta: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "features": FEATURES, **{f: getattr(cal, f) for f in Calibration.__dataclass_fields__}},
                              indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: Path = FITTED) -> Calibration:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the practice grader's parameters cannot be read ({path}): run `cimic grader`") from exc
    if tuple(data.get("features", ())) != FEATURES:
        raise ConfigError(f"the practice grader's parameters ({path}) were fitted on other features: run `cimic grader`")
    return Calibration(tuple(tuple(r) for r in data["coef"]), tuple(data["intercept"]), tuple(data["mean"]),
                       tuple(data["scale"]), data["floor"])


class Grader:
    """Grades answers; with a chat model, its reading joins the key points (see the module docstring)."""

    def __init__(self, chat_model=None, calibration: Calibration | None = None):
        self.chat_model = chat_model
        self.calibration = calibration or (load() if chat_model is not None else None)
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="grader-ahead") if chat_model is not None else None
        self._waiting = 0
        self._lock = threading.Lock()
        self.last_ahead: Future | None = None  # the latest read-ahead, for a caller that waits on it (the bench)

    @property
    def by(self) -> str:
        return "key points" if self.chat_model is None else f"key points and {self.chat_model.name}'s reading"

    def prepare(self, question: PracticeQuestion) -> Future | None:
        """Read the question's prompt ahead while the trainee types (see `model_check.prepare`); the future, for
        callers that wait on it, or None when nothing is read ahead (no chat model, or `AHEAD` already waiting)."""
        if self._ahead is None:
            return None
        with self._lock:
            if self._waiting >= AHEAD:
                return None
            self._waiting += 1
            self.last_ahead = self._ahead.submit(self._read_ahead, question)
            return self.last_ahead

    def _read_ahead(self, question: PracticeQuestion) -> None:
        with self._lock:
            self._waiting -= 1
        try:
            prepare(self.chat_model, question)
        except BackendUnavailable as exc:  # the grade will fall back to the key points, and say so
            _log.info("the practice question %s was not read ahead: %s", question.id, exc)
        except Exception:  # nobody waits on this future: a fault must reach the log, not vanish in it
            _log.exception("reading the practice question %s ahead failed", question.id)

    def grade(self, question: PracticeQuestion, answer: str | None, gave_up: bool = False) -> Grade:
        graded, read = word_signals(question, answer, gave_up)
        if self.chat_model is None or settled(read):
            return graded  # the model is not asked
        try:
            reading = model_reading(self.chat_model, question, clean(answer or ""))
        except BackendUnavailable:
            return graded
        return replace(graded, grade=self.calibration.decide(graded.grade, read, reading))
