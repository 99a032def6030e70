"""The answer gate: fitted on dev rows only, its threshold kept within the false-refusal budget, signals
switched off by a setting, the pre-draft check never refusing what a good draft could save, and the
fitted file in the repository readable and consistent with the data beside it."""

import json
import random

import pytest

from assistant.answering import gate as gates
from assistant.answering.signals import SIGNALS, Signals
from assistant.errors import ConfigError


# the rows each model of the gate decides (`gates.rows_of`): their drafter, and whether their points are quoted
ROWS_OF = {"extractive": ("extractive", False), "llm": ("llm", False), "points": ("llm", True)}


def synthetic_rows(n=400, seed=3):
    """Answerable rows have higher coverage and similarity, with noise; a test split on top; one row per model of the
    gate (`ROWS_OF`)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        answerable = i % 2 == 0
        base = 0.7 if answerable else 0.45
        sig = Signals(dense=min(1, max(0, rng.gauss(base, 0.12))), coverage=min(1, max(0, rng.gauss(base + 0.15, 0.15))),
                      focus=min(1, max(0, rng.gauss(base, 0.15))), model_refused=float(rng.random() < (0.1 if answerable else 0.6)),
                      draft_support=min(1, max(0, rng.gauss(0.9 if answerable else 0.5, 0.2))))
        for kind in gates.KINDS:
            drafter, quoted = ROWS_OF[kind]
            rows.append({"kind": drafter, "points_quoted": quoted, "split": "dev" if i < n * 3 // 4 else "test",
                         "answerable": answerable, "signals": sig.as_dict()})
    return rows


def test_threshold_keeps_the_false_refusal_budget_on_dev_and_separates_on_test():
    rows = synthetic_rows()
    models = gates.fit(rows, budget=0.05)
    figures = gates.evaluate(models, rows)
    for kind in gates.KINDS:
        # the budget is kept on each dev row's held-out probability (from fits without its group), and so holds, roughly,
        # on rows the fit never saw
        dev = gates.rows_of(rows, kind)
        held = [(p, r) for p, r in zip(gates._held_out_probabilities(dev, models[kind].signals, models[kind].c), dev) if r["answerable"]]
        assert sum(p < models[kind].threshold_for(r["signals"]) for p, r in held) / len(held) <= 0.05
        assert figures[f"{kind}/test"]["answerable_refused"] <= 0.10
        assert figures[f"{kind}/test"]["unanswerable_refused"] > 0.3  # the signals do carry the label
    assert "model_refused" not in models["extractive"].signals  # meaningless for quoted sources
    assert "model_refused" not in models["points"].signals and "model_confirms" in models["points"].signals
    assert models["llm"].coef[models["llm"].signals.index("model_refused")] < 0


def test_a_row_is_judged_only_by_fits_that_never_saw_its_group(monkeypatch):
    """Rows of one article (or a case and its rewordings) share their words: a held-out probability comes from
    regressions fitted without the row's whole group, in every draw of the folds."""
    dev = [dict(r, group=f"article-{i % 9}") for i, r in enumerate(synthetic_rows()) if r["kind"] == "extractive"
           and r["split"] == "dev"]
    real, judged = gates._regression, []

    def spy(train, signals, c):
        model, seen = real(train, signals, c), {r["group"] for r in train}

        class Judge:
            def probability(self, values):
                judged.append((next(r["group"] for r in dev if r["signals"] is values), seen))
                return model.probability(values)
        return Judge()

    monkeypatch.setattr(gates, "_regression", spy)
    gates._held_out_probabilities(dev, ("dense", "coverage"), 0.1)
    assert len(judged) == len(dev) * gates.REPEATS
    assert all(group not in seen for group, seen in judged)
    assert gates.group_of({"id": "g-cmi@-some-document"}) == "g-cmi"  # a case asked without its document goes with it


def test_the_regularisation_is_the_grids_least_held_out_cost_and_a_refit_can_reuse_it():
    rows = synthetic_rows()
    models = gates.fit(rows, 0.05)
    for kind, model in models.items():
        assert model.c in gates.C_GRID
        dev = gates.rows_of(rows, kind)
        use = model.signals
        costs = {}
        for c in gates.C_GRID:
            held = gates._held_out_probabilities(dev, use, c)
            t, bar = gates.choose_thresholds(held, dev, 0.05, gates.WRONG_ANSWER_COST, refusals="model_refused" in use)
            costs[c] = gates.operating_cost(held, dev, t, gates.WRONG_ANSWER_COST, bar)[0]
        assert costs[model.c] == min(costs.values())
    assert gates.fit(rows, 0.05, c={k: m.c for k, m in models.items()}) == models


def test_the_fit_never_reads_test_rows():
    rows = synthetic_rows()
    flipped = [dict(r, answerable=not r["answerable"]) if r["split"] == "test" else r for r in rows]
    assert gates.fit(rows, 0.05) == gates.fit(flipped, 0.05)


def test_a_chat_models_rows_whose_points_are_quoted_are_the_points_models():
    """An open question's points are quoted whichever the drafter: without a chat model the extractive model decides
    it, with one the points model, which reads the model's confirmation and no draft signal. A chat model's row of one
    is not the llm model's to learn from, nor is an extractive row the points model's."""
    rows = [r for r in synthetic_rows() if not r["points_quoted"]]
    rng = random.Random(5)
    quoted = [{"kind": drafter, "split": "dev", "answerable": i % 2 == 0, "points_quoted": True,
               "signals": Signals(dense=rng.uniform(0.4, 0.8), coverage=0.8, focus=0.6,
                                  model_confirms=min(1, max(0, rng.gauss(0.7 if i % 2 == 0 else 0.3, 0.2)))).as_dict()}
              for i in range(120) for drafter in ("extractive", "llm")]
    assert len(gates.rows_of(rows + quoted, "extractive")) == len(gates.rows_of(rows, "extractive")) + 120
    assert gates.rows_of(rows + quoted, "llm") == gates.rows_of(rows, "llm")
    assert gates.rows_of(rows + quoted, "points") == [r for r in quoted if r["kind"] == "llm"]
    with_quoted, without = gates.fit(rows + quoted, 0.05), gates.fit(rows, 0.05)
    assert with_quoted["llm"] == without["llm"] and with_quoted["extractive"] != without["extractive"]
    assert "points" not in without
    points = with_quoted["points"]
    assert points.coef[points.signals.index("model_confirms")] > 0 and "draft_support" not in points.signals


def test_pre_draft_check_refuses_only_what_no_draft_could_save():
    models = gates.fit(synthetic_rows(), 0.05)
    gate = gates.Gate(models)
    weak = Signals(dense=0.05, coverage=0.05, focus=0.05)
    strong = Signals(dense=0.9, coverage=1.0, focus=1.0)
    assert not gate.worth_drafting("llm", weak).answer
    assert gate.worth_drafting("llm", strong).answer
    for refused in (0.0, 1.0):
        for support in (0.0, 0.5, 1.0):
            after = Signals(dense=0.5, coverage=0.6, focus=0.5, model_refused=refused, draft_support=support)
            if gate.decide("llm", after).answer:
                assert gate.worth_drafting("llm", Signals(dense=0.5, coverage=0.6, focus=0.5)).answer


def test_saved_gate_loads_and_a_signal_can_be_switched_off(tmp_path):
    rows = synthetic_rows()
    (tmp_path / "signals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    gates.save(gates.fit(rows, 0.05), tmp_path / "gate.json", {"data": "signals.jsonl", "budget": 0.05})
    full = gates.load(tmp_path / "gate.json")
    assert set(full.models) == set(gates.KINDS)
    without = gates.load(tmp_path / "gate.json", off={"dense"})
    assert "dense" not in without.models["llm"].signals and "dense" in full.models["llm"].signals
    with pytest.raises(ConfigError, match="unknown signals: nonsense"):
        gates.load(tmp_path / "gate.json", off={"nonsense"})
    with pytest.raises(ConfigError, match="cimic gate"):
        gates.load(tmp_path / "missing.json")


def test_the_committed_gate_matches_its_data():
    """The packaged gate.json is what `cimic gate --fit` makes of the signals.jsonl beside it."""
    from assistant.config import Settings

    path = Settings(_env_file=None).gate_file
    meta = json.loads(path.read_text())["meta"]
    rows = gates.read_rows(path.parent / meta["data"])
    refit = gates.fit(rows, meta["budget"])
    saved = gates.load(path)
    assert set(saved.models) == set(gates.KINDS)
    for kind, model in refit.items():
        assert saved.models[kind].signals == model.signals
        assert saved.models[kind].threshold == pytest.approx(model.threshold, abs=1e-9)
        assert saved.models[kind].refusal_threshold == pytest.approx(model.refusal_threshold, abs=1e-9)
        assert set(model.signals) <= set(SIGNALS)
    assert {r["split"] for r in rows} == {"dev", "test"}


def test_a_model_refusal_must_clear_a_higher_bar_chosen_by_the_same_cost_rule():
    """Drafts the chat model refused, answerable or not, are judged by a bar of their own, never below the
    threshold; with refusals that are mostly right, the bar rises above the threshold."""
    rows = synthetic_rows()
    for i, r in enumerate(rows):  # the model refuses four in five unanswerable ones, and a few answerable ones
        if not r["answerable"] and i % 5:
            r["signals"]["model_refused"] = 1.0
    models = gates.fit(rows, 0.05)
    llm = models["llm"]
    assert llm.refusal_threshold is not None and llm.refusal_threshold >= llm.threshold
    assert models["extractive"].refusal_threshold is None  # quoted sources cannot refuse
    p_between = (llm.threshold + llm.refusal_threshold) / 2
    refused = {**Signals().as_dict(), "model_refused": 1.0}
    assert llm.threshold_for(refused) == llm.refusal_threshold and llm.threshold_for(Signals().as_dict()) == llm.threshold
    assert llm.threshold <= p_between <= llm.refusal_threshold


def test_a_model_refusal_is_overridden_only_with_quotes_the_extractive_gate_accepts():
    """Over a refused draft the answer quotes the sources' closest sentences: the llm gate's bar is not enough,
    the extractive gate must accept those sentences (it reads the same retrieval signals), else the refusal stands."""
    llm = gates.Model(("dense", "model_refused"), (1.0, 0.0), 0.0, (0.0, 0.0), (1.0, 1.0), 0.5, 0.6)
    extractive = gates.Model(("focus",), (1.0,), 0.0, (0.0,), (1.0,), 0.5)
    gate = gates.Gate({"llm": llm, "extractive": extractive})
    sure = Signals(dense=3.0, focus=3.0, model_refused=1.0)  # both accept
    unquotable = Signals(dense=3.0, focus=-3.0, model_refused=1.0)  # the llm gate is sure, the quotes do not pass
    assert gate.decide("llm", sure).answer
    assert not gate.decide("llm", unquotable).answer
    assert gate.decide("llm", Signals(dense=3.0, focus=-3.0)).answer  # a draft the model wrote is the llm gate's alone
