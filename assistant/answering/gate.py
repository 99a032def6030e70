"""The one place that decides whether to answer or to refuse.

The signals of a question (`signals.py`) are combined by a logistic regression, one per kind of drafter
("extractive": source sentences quoted; "llm": a chat model's draft), fitted on the dev split of the
labelled cases in `fitted/signals.jsonl` (answerable or not), each source (the gold set, a
generalization corpus) and each label weighing the same, so that out-of-scope questions (few, in the
gold set) count as much as look-alike ones (many, in the corpus). Its threshold is chosen so that at
most `budget` of the answerable dev cases are refused (the false-refusal budget), each judged by its
held-out probability (from a fit without it, 5-fold), so that the budget holds on questions the fit has not
seen; everything below it is refused. The fitted parameters live in `fitted/gate.json` (package data), beside the data they were fitted on,
and are refitted by `cimic gate --fit`. A signal switched off (`CIMIC_GATE_OFF=coverage,dense`) is
left out of a model refitted at start from the same data. Before drafting, the gate refuses only when
even the most favourable draft could not lift the question above the threshold, so that no time is
spent drafting an answer that would be refused anyway.

Leaves out: computing the signals, and the sentence-level support check that drops unsupported
sentences from a draft (`grounding.py`, run by `pipeline.py`): the gate reads how much of the draft survived it.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answering.signals import DRAFT_SIGNALS, SIGNALS, Signals
from assistant.errors import ConfigError

KINDS = ("extractive", "llm")
# signals that mean nothing for a kind of drafter: an extractive draft neither refuses nor goes unsupported
UNUSED = {"extractive": {"model_refused", "model_doubt", "draft_support", "model_confirms"}, "llm": set()}


@dataclass(frozen=True)
class Model:
    signals: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(c * (values[s] - m) / sc for s, c, m, sc in zip(self.signals, self.coef, self.mean, self.scale))
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))

    def contributions(self, values: dict[str, float]) -> dict[str, float]:
        return {s: round(c * (values[s] - m) / sc, 3) for s, c, m, sc in zip(self.signals, self.coef, self.mean, self.scale)}


@dataclass(frozen=True)
class Decision:
    answer: bool
    probability: float
    threshold: float
    signals: dict[str, float] = field(default_factory=dict)
    contributions: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"answer": self.answer, "probability": round(self.probability, 4), "threshold": round(self.threshold, 4),
                "signals": self.signals, "contributions": self.contributions}


class Gate:
    def __init__(self, models: dict[str, Model]):
        self.models = models

    def _model(self, kind: str) -> Model:
        if kind not in self.models:
            raise ConfigError(f"the answer gate has no model for the {kind} drafter: run `cimic gate --collect --backend local`")
        return self.models[kind]

    def decide(self, kind: str, signals: Signals) -> Decision:
        model = self._model(kind)
        values = signals.as_dict()
        p = model.probability(values)
        return Decision(p >= model.threshold, p, model.threshold, values, model.contributions(values))

    def worth_drafting(self, kind: str, signals: Signals) -> Decision:
        """The decision for the most favourable draft: refuse now only if no draft could lift it."""
        model = self._model(kind)
        draft = [s for s in DRAFT_SIGNALS if s in model.signals]
        best = None
        for combo in itertools.product((0.0, 1.0), repeat=len(draft)):
            values = {**signals.as_dict(), **dict(zip(draft, combo))}
            p = model.probability(values)
            if best is None or p > best[0]:
                best = (p, values)
        p, values = best
        return Decision(p >= model.threshold, p, model.threshold, signals.as_dict(), model.contributions(values))


class OpenGate(Gate):
    """Answers everything: for collecting the signals the gate is fitted on, and for unit tests."""

    def __init__(self):
        super().__init__({})

    def decide(self, kind, signals):
        return Decision(True, 1.0, 0.0, signals.as_dict())

    worth_drafting = decide


# ---- fitting -----------------------------------------------------------------------------------------
FOLDS = 5
# the regression's inverse regularisation strength, chosen by 5-fold cross-validation on the dev rows (of 1.0, 0.3,
# 0.1, 0.03): 0.1 refuses fewer answerable corpus questions and more out-of-scope ones for both kinds of drafter
# than 1.0, whose signals of one kind (coverage, focus, unknown words) pulled against each other
C = 0.1


def _regression(rows: list[dict], signals: tuple[str, ...]) -> Model:
    """The logistic regression alone (threshold 0), every source and, within it, both labels weighing the same."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["signals"][s] for s in signals] for r in rows], dtype=float)
    y = np.array([1 if r["answerable"] else 0 for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    groups = [(r.get("source", ""), r["answerable"]) for r in rows]
    weight = np.array([len(rows) / (len(set(groups)) * groups.count(g)) for g in groups])
    lr = LogisticRegression(C=C, max_iter=1000).fit((x - mean) / scale, y, sample_weight=weight)
    return Model(signals, tuple(float(c) for c in lr.coef_[0]), float(lr.intercept_[0]), tuple(float(m) for m in mean),
                 tuple(float(s) for s in scale), 0.0)


def _held_out_probabilities(rows: list[dict], signals: tuple[str, ...]) -> list[float]:
    """Each row's probability from a regression fitted without it (`FOLDS`-fold, stratified by source and label,
    seeded); its own regression's, where a group is too small to be split."""
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{r.get('source', '')}/{r['answerable']}" for r in rows]
    folds = min(FOLDS, min(strata.count(s) for s in set(strata)))
    if folds < 2:
        model = _regression(rows, signals)
        return [model.probability(r["signals"]) for r in rows]
    out = [0.0] * len(rows)
    for train, held in StratifiedKFold(folds, shuffle=True, random_state=0).split(strata, strata):
        model = _regression([rows[i] for i in train], signals)
        for i in held:
            out[i] = model.probability(rows[i]["signals"])
    return out


def _fit_one(rows: list[dict], signals: tuple[str, ...], budget: float) -> Model:
    """The regression on all the rows, and the threshold that refuses at most `budget` of the answerable rows by
    their held-out probabilities: a row's probability from a fit that included it is too sure of it, and a
    threshold set on those refused 9.7% of the corpus's answerable dev questions against a budget of 3%
    (cross-validated on the llm dev rows, C = 1; 5.4% with held-out probabilities)."""
    model = _regression(rows, signals)
    held = _held_out_probabilities(rows, signals)
    answerable = sorted(p for p, r in zip(held, rows) if r["answerable"])
    refused = int(math.floor(budget * len(answerable)))  # at most this many answerable dev cases below the threshold
    threshold = answerable[refused] if answerable else 0.5
    return Model(model.signals, model.coef, model.intercept, model.mean, model.scale, float(threshold))


def fit(rows: list[dict], budget: float, off: set[str] = frozenset()) -> dict[str, Model]:
    """One model per kind of drafter that has rows, fitted on the dev rows of that kind."""
    models = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind and r.get("split", "dev") == "dev"]
        if not mine:
            continue
        if len({r["answerable"] for r in mine}) < 2:
            raise ConfigError(f"the gate cannot be fitted for {kind}: it needs answerable and unanswerable dev cases")
        use = tuple(s for s in SIGNALS if s not in UNUSED[kind] and s not in off)
        models[kind] = _fit_one(mine, use, budget)
    if not models:
        raise ConfigError("the gate cannot be fitted: no dev rows")
    return models


def evaluate(models: dict[str, Model], rows: list[dict]) -> dict[str, dict]:
    """Per kind and split: answerable refused, unanswerable refused, balanced accuracy."""
    out = {}
    for kind, model in models.items():
        for split in ("dev", "test"):
            mine = [r for r in rows if r["kind"] == kind and r.get("split", "dev") == split]
            pos = [r for r in mine if r["answerable"]]
            neg = [r for r in mine if not r["answerable"]]
            if not pos or not neg:
                continue
            fr = sum(model.probability(r["signals"]) < model.threshold for r in pos) / len(pos)
            tr = sum(model.probability(r["signals"]) < model.threshold for r in neg) / len(neg)
            out[f"{kind}/{split}"] = {"answerable_refused": round(fr, 3), "unanswerable_refused": round(tr, 3),
                                      "balanced_accuracy": round((1 - fr + tr) / 2, 3), "cases": len(mine)}
    return out


def ablation(rows: list[dict], budget: float) -> dict[str, dict]:
    """What each signal adds: the test figures with every signal, then with each one left out."""
    out = {"all": evaluate(fit(rows, budget), rows)}
    for s in SIGNALS:
        out[f"without {s}"] = evaluate(fit(rows, budget, {s}), rows)
    return out


def ablation_table(ablation: dict) -> str:
    """The ablation as a table: per model (all signals, then each left out), test figures per drafter."""
    cols = sorted({c for v in ablation.values() for c in v if c.endswith("/test")})
    lines = ["answerable refused / unanswerable refused, on the test rows (fitted on dev)",
             f"{'':24s}" + "".join(f"{c:>24s}" for c in cols)]
    for name, figures in ablation.items():
        lines.append(f"{name:24s}" + "".join(
            f"{figures[c]['answerable_refused']:>12.1%}{figures[c]['unanswerable_refused']:>12.1%}" if c in figures else f"{'-':>24s}"
            for c in cols))
    return "\n".join(lines)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        raise ConfigError(f"no gate data at {path}: run `cimic gate --collect` then `cimic gate --fit`")
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def save(models: dict[str, Model], path: Path, meta: dict) -> None:
    data = {"meta": meta, "models": {k: {f: getattr(m, f) for f in Model.__dataclass_fields__} for k, m in models.items()}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: Path, off: set[str] = frozenset(), budget: float | None = None) -> Gate:
    """The fitted gate; with signals switched off, refitted without them from the data beside it."""
    if not path.exists():
        raise ConfigError(f"the answer gate's parameters are missing ({path}): run `cimic gate --fit`")
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(off) - set(SIGNALS)
    if unknown:
        raise ConfigError(f"CIMIC_GATE_OFF names unknown signals: {', '.join(sorted(unknown))} (known: {', '.join(SIGNALS)})")
    if off:
        rows = read_rows(path.parent / data["meta"]["data"])
        return Gate(fit(rows, budget if budget is not None else data["meta"]["budget"], set(off)))
    models = {k: Model(**{f: tuple(v) if isinstance(v, list) else v for f, v in m.items()}) for k, m in data["models"].items()}
    return Gate(models)
