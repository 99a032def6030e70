"""The one place that decides whether to answer or to refuse.

The signals of a question (`signals.py`) are combined by a logistic regression, one per way of answering
("extractive": source sentences quoted; "llm": a chat model's draft; "points": an open question's points quoted,
confirmed by a chat model), fitted on the dev split of the
labelled cases in `fitted/signals.jsonl` (answerable or not) that the model decides when serving (`rows_of`),
each source (the gold set, out-of-scope questions, questions asked of an index without their document, a
generalization corpus) and each label weighing the same. Its threshold, and the regression's regularisation, are
the operating point of least expected cost on held-out dev data (each row judged by its probability from fits
that never saw its article or case, 5-fold): a cited answer to a question the sources do not answer costs
`wrong_answer_cost` (CIMIC_WRONG_ANSWER_COST), a refusal of an answerable one costs 1, under a ceiling: at most
`budget` (CIMIC_REFUSAL_BUDGET) of each source's answerable dev questions
refused. Everything below the threshold is refused. A draft the chat model refused must clear a bar of its own,
never below the threshold, chosen with it by the same rule: the model's refusal stands unless the gate, reading
it among its signals, is that sure the sources answer, and the extractive model accepts the sentences quoted in
the refused draft's place (they are what the trainee would read). The fitted parameters live in `fitted/gate.json`
(package data), beside the data they were fitted on, and are refitted by `cimic gate --fit`. A signal switched off (`CIMIC_GATE_OFF=coverage,dense`) is
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
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answering.signals import DRAFT_SIGNALS, SIGNALS, Signals
from assistant.errors import ConfigError

# the gate's models, one per way of answering: sentences quoted without a chat model ("extractive"), a chat model's draft
# ("llm"), and an open question's points quoted with a chat model beside them ("points": it confirms the sources' closest
# sentences, `pipeline.Assistant.points_confirmation`, and writes no draft the gate reads)
KINDS = ("extractive", "llm", "points")
# signals that mean nothing for a kind: an extractive draft neither refuses nor goes unsupported, and quoted points are
# not the chat model's draft (it only confirms)
UNUSED = {"extractive": {"model_refused", "model_doubt", "draft_support", "model_confirms"}, "llm": set(),
          "points": {"model_refused", "model_doubt", "draft_support"}}


@dataclass(frozen=True)
class Model:
    signals: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    # the bar a draft the chat model refused must clear: its refusal stands unless the gate is this sure
    # (None: the same threshold; a drafter that cannot refuse has none)
    refusal_threshold: float | None = None
    c: float | None = None  # the regression's inverse regularisation strength it was fitted with (`C_GRID`)

    def threshold_for(self, values: dict[str, float]) -> float:
        """The threshold that applies: the refusal's bar when the model refused, else the threshold."""
        if self.refusal_threshold is not None and values.get("model_refused", 0.0) >= 0.5:
            return max(self.threshold, self.refusal_threshold)
        return self.threshold

    def refuses(self, values: dict[str, float]) -> bool:
        return self.probability(values) < self.threshold_for(values)

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
        p, threshold = model.probability(values), model.threshold_for(values)
        answer = p >= threshold
        if answer and kind != "extractive" and values.get("model_refused", 0.0) >= 0.5 and "extractive" in self.models:
            # over the chat model's refusal the answer quotes the sources' closest sentences: the gate that judges
            # quoted sentences must accept them too, else the refusal stands
            answer = not self.models["extractive"].refuses(values)
        return Decision(answer, p, threshold, values, model.contributions(values))

    def worth_drafting(self, kind: str, signals: Signals) -> Decision:
        """The decision for the most favourable draft: refuse now only if no draft could lift it."""
        model = self._model(kind)
        draft = [s for s in DRAFT_SIGNALS if s in model.signals]
        best = None
        for combo in itertools.product((0.0, 1.0), repeat=len(draft)):
            values = {**signals.as_dict(), **dict(zip(draft, combo))}
            p, threshold = model.probability(values), model.threshold_for(values)
            if best is None or p - threshold > best[0] - best[1]:
                best = (p, threshold, values)
        p, threshold, values = best
        return Decision(p >= threshold, p, threshold, signals.as_dict(), model.contributions(values))


class OpenGate(Gate):
    """Answers everything: for collecting the signals the gate is fitted on, and for unit tests."""

    def __init__(self):
        super().__init__({})

    def decide(self, kind, signals):
        return Decision(True, 1.0, 0.0, signals.as_dict())

    worth_drafting = decide


# ---- fitting -----------------------------------------------------------------------------------------
FOLDS = 5
# held-out probabilities are the mean of this many draws of the folds: with 8 dev articles in 5 folds, one draw moved
# the held-out cost by about 0.03, as much as the choices it judges
REPEATS = 3
# the regression's inverse regularisation strength is chosen per kind of drafter, the one of least held-out cost
# (`_fit_one`). The sample weights add up to the number of rows, so the more rows, the weaker a given C. On folds that
# split an article's rows between the fit and its judge (they share the article's words), the extractive choice was
# 0.003; held out by group it is 0.01 (held-out cost 0.474 against 0.504, lower in 94% of bootstraps over the groups)
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3)
# what a cited answer to a question the sources do not answer costs, against 1 for refusing an answerable one
# (CIMIC_WRONG_ANSWER_COST; the README says why 3)
WRONG_ANSWER_COST = 3.0


def _regression(rows: list[dict], signals: tuple[str, ...], c: float) -> Model:
    """The logistic regression alone (threshold 0), every source and, within it, both labels weighing the same."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["signals"][s] for s in signals] for r in rows], dtype=float)
    y = np.array([1 if r["answerable"] else 0 for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    groups = [(r.get("source", ""), r["answerable"]) for r in rows]
    count = Counter(groups)  # counted once: `groups.count` per row took 9 of a fit's 14 s on 8,524 rows
    weight = np.array([len(rows) / (len(count) * count[g]) for g in groups])
    lr = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y, sample_weight=weight)
    return Model(signals, tuple(float(c) for c in lr.coef_[0]), float(lr.intercept_[0]), tuple(float(m) for m in mean),
                 tuple(float(s) for s in scale), 0.0)


def group_of(row: dict, i: int = 0) -> str:
    """What a row is not independent of: its `group` (a corpus case's article, a doctrine case's original: a
    rewording and the case asked without its document go with it), else its id without a left-out document."""
    return row.get("group") or row.get("id", f"#{i}").split("@")[0]


def _held_out_probabilities(rows: list[dict], signals: tuple[str, ...], c: float) -> list[float]:
    """Each row's probability from regressions fitted without its group (`group_of`; `FOLDS` folds stratified by
    source and label, the mean of `REPEATS` seeded draws); its own regression's, where there are too few groups."""
    from sklearn.model_selection import StratifiedGroupKFold

    strata = [f"{r.get('source', '')}/{r['answerable']}" for r in rows]
    groups = [group_of(r, i) for i, r in enumerate(rows)]
    folds = min(FOLDS, *(len({g for g, r in zip(groups, rows) if r["answerable"] == label}) for label in (True, False)))
    if folds < 2:
        model = _regression(rows, signals, c)
        return [model.probability(r["signals"]) for r in rows]
    out = [0.0] * len(rows)
    with warnings.catch_warnings():
        # a source with fewer rows of a label than folds (3 unanswerable gold rows whose points are quoted) is spread
        # over as many folds as it has rows: what the stratification can do, not a fault to print on every fit
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        for seed in range(REPEATS):
            for train, held in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(strata, strata, groups):
                model = _regression([rows[i] for i in train], signals, c)
                for i in held:
                    out[i] += model.probability(rows[i]["signals"]) / REPEATS
    return out


def _masks(rows: list[dict]) -> tuple:
    """What `operating_cost` reads of the rows, read once: whether the model refused each, whether the sentences
    quoted in place of a refusal pass the extractive gate (`quoted_ok`, set by `fit`; true where unset), and per
    source its answerable and unanswerable rows (boolean arrays)."""
    import numpy as np

    refused_by_model = np.array([r["signals"].get("model_refused", 0.0) >= 0.5 for r in rows], dtype=bool)
    quoted_ok = np.array([bool(r.get("quoted_ok", True)) for r in rows], dtype=bool)
    answerable = np.array([bool(r["answerable"]) for r in rows], dtype=bool)
    sources = np.array([r.get("source", "") for r in rows], dtype=object)
    groups = {s: (answerable & (sources == s), ~answerable & (sources == s)) for s in dict.fromkeys(sources.tolist())}
    return refused_by_model, quoted_ok, groups


def operating_cost(held: list[float], rows: list[dict], threshold: float, wrong_answer_cost: float,
                   refusal_threshold: float | None = None, masks: tuple | None = None) -> tuple[float, dict]:
    """The expected cost of an operating point on held-out probabilities, and each source's figures.

    Each source weighs the same, as in the regression: the cost is the mean share of answerable questions
    refused (over the sources that have answerable rows) plus `wrong_answer_cost` times the mean share of
    unanswerable questions answered (over the sources that have unanswerable rows), i.e. the cost per question
    when half are answerable, a refusal of an answerable question costing 1. A row the chat model refused is
    judged by `refusal_threshold` when there is one, and is answered only where the sentences quoted in its place
    pass the extractive gate (`quoted_ok`)."""
    import numpy as np

    p = np.asarray(held, dtype=float)
    refused_by_model, quoted_ok, groups = masks or _masks(rows)
    bar = np.full(len(rows), threshold)
    if refusal_threshold is not None:
        bar[refused_by_model] = max(threshold, refusal_threshold)
    answered = (p >= bar) & (~refused_by_model | quoted_ok)
    figures = {}
    for source, (pos, neg) in groups.items():
        figures[source] = {
            "answerable_refused": float((~answered[pos]).mean()) if pos.any() else None,
            "unanswerable_answered": float(answered[neg].mean()) if neg.any() else None,
            "answerable": int(pos.sum()), "unanswerable": int(neg.sum())}
    refused = [f["answerable_refused"] for f in figures.values() if f["answerable_refused"] is not None]
    wrong = [f["unanswerable_answered"] for f in figures.values() if f["unanswerable_answered"] is not None]
    cost = (sum(refused) / len(refused) if refused else 0.0) + wrong_answer_cost * (sum(wrong) / len(wrong) if wrong else 0.0)
    return cost / 2, figures


# a source's refusal ceiling binds only where it has this many answerable dev rows (fewer: one row is over 5%)
CEILING_ROWS = 20
CANDIDATES = 120  # thresholds tried per bar (quantiles of the held-out probabilities)


def _candidates(values) -> list[float]:
    import numpy as np

    values = np.unique(np.asarray(list(values), dtype=float))
    if len(values) > CANDIDATES:
        values = np.unique(np.quantile(values, np.linspace(0, 1, CANDIDATES)))
    return [0.0, *values.tolist()]


def choose_thresholds(held: list[float], rows: list[dict], budget: float, wrong_answer_cost: float,
                      refusals: bool = False) -> tuple[float, float | None]:
    """The operating point of least expected cost (`operating_cost`) among those that refuse at most `budget` of
    each source's answerable rows (the ceiling on false refusals), each row judged by its held-out probability;
    of equally cheap ones, the lowest thresholds (fewest refusals). With `refusals` (a chat model drafts), a second,
    higher bar for the drafts the model refused is chosen with it: the model's refusal stands unless the gate is
    that sure."""
    refused_by_model = [r["signals"].get("model_refused", 0.0) >= 0.5 for r in rows]
    plain = _candidates(p for p, m in zip(held, refused_by_model) if not m) if refusals else _candidates(held)
    bars = [None]
    if refusals and any(refused_by_model):
        bars = _candidates(p for p, m in zip(held, refused_by_model) if m)
    best, masks = None, _masks(rows)
    for t in plain:
        for tr in bars:
            if tr is not None and tr < t:
                continue
            cost, figures = operating_cost(held, rows, t, wrong_answer_cost, tr, masks)
            if any(f["answerable_refused"] is not None and f["answerable"] >= CEILING_ROWS and f["answerable_refused"] > budget
                   for f in figures.values()):
                continue
            if best is None or cost < best[0] - 1e-12:
                best = (cost, t, tr)
    return (best[1], best[2]) if best else (0.0, None)


def _fit_one(rows: list[dict], signals: tuple[str, ...], budget: float, wrong_answer_cost: float,
             c: float | None = None) -> tuple[Model, list[float]]:
    """The regression on all the rows, and the operating point of least expected cost with at most `budget` of each
    source's answerable rows refused, judged by held-out probabilities: a row's probability from a fit that
    included it is too sure of it (a threshold set on those refused 9.7% of the corpus's answerable dev
    questions against a budget of 3%; 5.4% with held-out probabilities). Without `c`, the regularisation of least
    held-out cost of `C_GRID` (the most regularised of equals). Returns the model and those probabilities."""
    best = None
    for each in (c,) if c is not None else C_GRID:
        held = _held_out_probabilities(rows, signals, each)
        threshold, bar = choose_thresholds(held, rows, budget, wrong_answer_cost, refusals="model_refused" in signals)
        cost = operating_cost(held, rows, threshold, wrong_answer_cost, bar)[0]
        if best is None or cost < best[0] - 1e-12:
            best = (cost, each, threshold, bar, held)
    _, c, threshold, bar, held = best
    model = _regression(rows, signals, c)
    return Model(model.signals, model.coef, model.intercept, model.mean, model.scale, float(threshold),
                 None if bar is None else float(bar), c), held


def risk_coverage(scored: list[tuple[float, bool]], points: int = 11) -> list[dict]:
    """The risk-coverage curve of a decision by probability: for thresholds from the lowest to the highest
    probability, the share of questions answered (coverage) and the share of the answered ones that were
    right (selective accuracy). `scored`: (probability, right) per question, right meaning answerable and
    answered well."""
    if not scored:
        return []
    ps = sorted({p for p, _ in scored})
    step = max(1, len(ps) // (points - 1))
    out = []
    for t in ps[::step] + [ps[-1] + 1e-9]:
        answered = [right for p, right in scored if p >= t]
        out.append({"threshold": round(t, 4), "coverage": round(len(answered) / len(scored), 4),
                    "accuracy": round(sum(answered) / len(answered), 4) if answered else None})
    return out


def curve_table(curve: list[dict], threshold: float) -> str:
    """The curve as text, the row where `threshold` sits marked."""
    lines = [f"{'threshold':>10s} {'answered':>9s} {'right':>7s}"]
    mark = max((i for i, c in enumerate(curve) if c["threshold"] <= threshold), default=0)
    for i, c in enumerate(curve):
        acc = "-" if c["accuracy"] is None else f"{c['accuracy']:.1%}"
        lines.append(f"{c['threshold']:>10.3f} {c['coverage']:>9.1%} {acc:>7s}" + ("   <- the gate's threshold" if i == mark else ""))
    return "\n".join(lines)


def rows_of(rows: list[dict], kind: str, split: str = "dev") -> list[dict]:
    """The rows of a split that `kind`'s model decides when the assistant serves: a row's `kind` is its drafter, and a
    chat model's row of a question whose points are quoted (`points_quoted`: an open question, `pipeline.Prepared`) is
    decided by the "points" model, not the "llm" one: its points are quoted whichever the drafter, and the chat model
    only confirms them (with them among the llm model's rows, 188 of its 857 corpus dev rows, the 5% ceiling on
    answerable questions refused was read on rows that model never decides, and it refused 6.2% of the ones it does)."""
    drafter, quoted = {"extractive": ("extractive", None), "llm": ("llm", False), "points": ("llm", True)}[kind]
    return [r for r in rows if r["kind"] == drafter and r.get("split", "dev") == split
            and (quoted is None or bool(r.get("points_quoted", False)) == quoted)]


def fit(rows: list[dict], budget: float, off: set[str] = frozenset(), wrong_answer_cost: float = WRONG_ANSWER_COST,
        c: dict[str, float] | None = None) -> dict[str, Model]:
    """One model per kind (`KINDS`) that has rows, fitted on the dev rows it decides (`rows_of`). The extractive one first:
    a chat model's refusal is overridden only with quoted sentences it accepts (`Gate.decide`), so the llm
    operating point is chosen knowing which of its dev rows' quotes pass (by their held-out probabilities). `c`: the
    regularisation per kind, else chosen (`_fit_one`)."""
    models: dict[str, Model] = {}
    quoted_ok: dict[tuple, bool] = {}
    for kind in KINDS:
        mine = rows_of(rows, kind)
        if not mine:
            continue
        if len({r["answerable"] for r in mine}) < 2:
            raise ConfigError(f"the gate cannot be fitted for {kind}: it needs answerable and unanswerable dev cases")
        use = tuple(s for s in SIGNALS if s not in UNUSED[kind] and s not in off)
        if kind != "extractive" and quoted_ok:
            mine = [{**r, "quoted_ok": quoted_ok.get((r.get("source"), r.get("id")), True)} for r in mine]
        models[kind], held = _fit_one(mine, use, budget, wrong_answer_cost, (c or {}).get(kind))
        if kind == "extractive":
            quoted_ok = {(r.get("source"), r["id"]): p >= models[kind].threshold for r, p in zip(mine, held) if "id" in r}
    if not models:
        raise ConfigError("the gate cannot be fitted: no dev rows")
    return models


def evaluate(models: dict[str, Model], rows: list[dict]) -> dict[str, dict]:
    """Per kind and split: answerable refused, unanswerable refused, balanced accuracy."""
    out = {}
    gate = Gate(models)
    for kind, model in models.items():
        for split in ("dev", "test"):
            mine = rows_of(rows, kind, split)
            pos = [r for r in mine if r["answerable"]]
            neg = [r for r in mine if not r["answerable"]]
            if not pos or not neg:
                continue
            fr = sum(not gate.decide(kind, Signals(**r["signals"])).answer for r in pos) / len(pos)
            tr = sum(not gate.decide(kind, Signals(**r["signals"])).answer for r in neg) / len(neg)
            out[f"{kind}/{split}"] = {"answerable_refused": round(fr, 3), "unanswerable_refused": round(tr, 3),
                                      "balanced_accuracy": round((1 - fr + tr) / 2, 3), "cases": len(mine)}
    return out


def ablation(rows: list[dict], budget: float, wrong_answer_cost: float = WRONG_ANSWER_COST,
             full: dict[str, Model] | None = None) -> dict[str, dict]:
    """What each signal adds: the test figures with every signal (`full`, fitted on `rows` if not given), then with
    each one left out."""
    full = full or fit(rows, budget, wrong_answer_cost=wrong_answer_cost)
    c = {kind: model.c for kind, model in full.items()}  # each signal left out at the regularisation chosen with all
    out = {"all": evaluate(full, rows)}
    for s in SIGNALS:
        out[f"without {s}"] = evaluate(fit(rows, budget, {s}, wrong_answer_cost, c), rows)
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


def write_rows(path: Path, rows: list[dict]) -> None:
    """The labelled rows, one JSON object a line, written whole or not at all (a temporary file, then renamed)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def save(models: dict[str, Model], path: Path, meta: dict) -> None:
    data = {"meta": meta, "models": {k: {f: getattr(m, f) for f in Model.__dataclass_fields__} for k, m in models.items()}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: Path, off: set[str] = frozenset(), budget: float | None = None, wrong_answer_cost: float | None = None) -> Gate:
    """The fitted gate; with signals switched off, refitted without them from the data beside it."""
    if not path.exists():
        raise ConfigError(f"the answer gate's parameters are missing ({path}): run `cimic gate --fit`")
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(off) - set(SIGNALS)
    if unknown:
        raise ConfigError(f"CIMIC_GATE_OFF names unknown signals: {', '.join(sorted(unknown))} (known: {', '.join(SIGNALS)})")
    if off:
        rows = read_rows(path.parent / data["meta"]["data"])
        cost = wrong_answer_cost if wrong_answer_cost is not None else data["meta"].get("wrong_answer_cost", WRONG_ANSWER_COST)
        c = {k: m["c"] for k, m in data["models"].items() if m.get("c") is not None}
        return Gate(fit(rows, budget if budget is not None else data["meta"]["budget"], set(off), cost, c))
    models = {k: Model(**{f: tuple(v) if isinstance(v, list) else v for f, v in m.items()}) for k, m in data["models"].items()}
    return Gate(models)
