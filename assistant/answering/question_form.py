"""Whether a question asks for several points (an open question: reasons, problems, lessons, an overview, a
comparison, a role, pros and cons, a list) or for one fact, a definition or a yes/no.

A logistic regression over the question's MiniLM embedding, its names and numbers masked (`masked`: "What did
the UK do in 2020?" -> "What did the X do in X?", so that it reads the form and not the subject), and the rules'
reading (`language.is_open`, one feature), fitted on labelled questions written by people who never saw the rules
(`evals/forms/questions.jsonl`, its README); what the rules read as open stays open. A question for a number, a
date or a name (`language.expects`) is never open. The rules alone recognised about half of the open questions of
those sets (48%, 45% and 55% of the three dev sets, 53% of the test set, written apart from them), for forms they did not
list ("walk me through ...", "what went wrong ...", "give an overview of ...", "what part did X play ...", "the pros
and cons of ..."); the regression reads what such forms have in common: test accuracy 0.762 -> 0.932.

Parameters live in `fitted/question_form.json`, with the embedders they hold for (MiniLM, int8 ONNX and torch);
with another embedder (a test's stand-in) the rules decide alone. `cimic forms` refits them on the dev split and
prints the agreement on both splits. Leaves out: what the pipeline does with an open question (`pipeline._prepare`,
`drafting.extractive_answer`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from assistant.config import ROOT
from assistant.errors import ConfigError
from assistant.language import expects, is_open, tagged

FITTED = Path(str(resources.files("assistant") / "answering" / "fitted" / "question_form.json"))
QUESTIONS = ROOT / "evals" / "forms" / "questions.jsonl"
C = 10.0  # chosen on the dev sets, each read with a fit on the other (C 1, 3, 10; see evals/forms/README.md)
RULES = 3.0  # the rules' reading enters as 0 or this, on the scale of the embedding's largest coordinates
MASKED_TAGS = frozenset({"NNP", "NNPS", "CD"})
EMBEDDERS = ("all-MiniLM-L6-v2-int8-eager", "all-MiniLM-L6-v2")  # one model, as int8 ONNX and on torch: one fit


def masked(question: str) -> str:
    """The question with its names and numbers (spaCy's tags NNP, NNPS, CD) written "X"."""
    out = question
    for text, tag, at in sorted(tagged(question), key=lambda t: -t[2]):
        if tag in MASKED_TAGS:
            out = out[:at] + "X" + out[at + len(text):]
    return out


def features(embedder, questions: list[str], rules: list[bool] | None = None) -> list[list[float]]:
    """Each question's masked embedding and the rules' reading of it (`rules`, where already read)."""
    rules = [is_open(q) for q in questions] if rules is None else rules
    vectors = embedder.embed([masked(q) for q in questions])
    return [list(v) + [RULES * r] for v, r in zip(vectors, rules)]


def read_questions(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fit(embedder, rows: list[dict], c: float = C) -> dict:
    """The regression's parameters fitted on `rows` ({"question", "open"})."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000).fit(features(embedder, [r["question"] for r in rows]),
                                                        [bool(r["open"]) for r in rows])
    return {"coef": [round(float(v), 6) for v in model.coef_[0]], "intercept": round(float(model.intercept_[0]), 6),
            "C": c, "rules": RULES, "rows": len(rows), "embedders": list(EMBEDDERS)}


@lru_cache(maxsize=4)
def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"coef": [float(v) for v in data["coef"]], "intercept": float(data["intercept"]),
                "embedders": list(data["embedders"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the question-form parameters at {path} cannot be read ({exc}); refit them with `cimic forms`")


class QuestionForm:
    """`is_open(question)` by the fitted regression over `embedder` (the index's); by the rules alone where the
    parameters were not fitted for that embedder. The parameters are read from `path`, or given (`params`, as
    `fit` returns them)."""

    def __init__(self, embedder, path: Path = FITTED, params: dict | None = None):
        params = params if params is not None else _load(path)
        self.embedder = embedder
        self.coef, self.intercept = tuple(params["coef"]), params["intercept"]
        self.fitted = embedder.name in params["embedders"]

    def is_open(self, question: str) -> bool:
        """Open when the rules read it so (they are precise: 5 of 207 one-fact dev questions, none of 72 test ones,
        read as open) or the regression does (it reads the forms the rules miss); never a question for a number, a
        date or a name."""
        rules = is_open(question)
        if rules or not self.fitted or expects(question) is not None:
            return rules
        (x,) = features(self.embedder, [question], [rules])
        if len(x) != len(self.coef):
            raise ConfigError(f"the question-form parameters have {len(self.coef)} weights and the embedder gives "
                              f"{len(x) - 1} dimensions; refit them with `cimic forms`")
        return self.intercept + sum(w * v for w, v in zip(self.coef, x)) >= 0.0  # log-odds: a probability of 0.5 or more


def agreement(truth: list[bool], read: list[bool]) -> dict:
    """How far a reading of open questions agrees with the labels: open ones recognised, others read as open."""
    return {"questions": len(truth), "open": sum(truth), "recognised": sum(t and r for t, r in zip(truth, read)),
            "others": len(truth) - sum(truth), "read_as_open": sum(r and not t for t, r in zip(truth, read)),
            "accuracy": sum(t == r for t, r in zip(truth, read)) / len(truth) if truth else 0.0}


def held_out_by_set(embedder, dev: list[dict]) -> list[bool]:
    """Each dev question read by a fit on the other dev sets only (its writer's phrasing unseen), in order."""
    read = {}
    for name in sorted({r["set"] for r in dev}):
        rest = [r for r in dev if r["set"] != name]
        mine = [(i, r) for i, r in enumerate(dev) if r["set"] == name]
        form = QuestionForm(embedder, params=fit(embedder, rest))
        read.update(zip((i for i, _ in mine), (form.is_open(r["question"]) for _, r in mine)))
    return [read[i] for i in range(len(dev))]
