"""`cimic eval`: run one or several datasets through the assistant and say how far it can be trusted.

Each dataset is answered from its own documents (`knowledge_for`). For every case: the answer, its
retrieval, citation, grounding, fact and refusal scores (`metrics.py`), the raw draft before the support
check (its groundedness, the sentences dropped, whether the answer fell back), the independent judge's
groundedness and citation precision (`judge.py`: a different method from the chain's scorer, calibrated
on hand labels the scorer was never tuned on), and pass or fail with the reasons in words. For the run:
every metric's mean with a bootstrap interval, per split (dev: tuned on; test: only reported) and per
dataset, latency percentiles, the judge's and the scorer's agreement with the held-out hand labels, the
change since a previous report, and the gates (thresholds per back-end in `evals/gates.yaml`, applied to
the test split). Writes `report.json` and a self-contained `report.html` (`report.py`).
Leaves out: LLM-as-judge scoring.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.config import ROOT
from assistant.errors import AssistantError, DatasetError
from assistant.answering.grounding import LexicalSupportScorer, SupportScorer, best_support, cited_sentences
from assistant.evaluation.metrics import METRICS, answer_scores, fact_recall, mean_ci, percentile, retrieval_scores



@dataclass
class Case:
    id: str
    question: str
    answerable: bool
    gold: list
    facts: list
    history: list
    kind: str
    split: str = ""  # "dev": tuned on; "test": only reported; "": the dataset does not say
    group: str = ""  # the cases it is not independent of share it: a rewording's original (`of`), a corpus's article

    @classmethod
    def parse(cls, line: str, where: str) -> "Case":
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise DatasetError(f"{where}: a case must be a JSON object")
        missing = [k for k in ("id", "question", "answerable") if k not in raw]
        if missing:
            raise DatasetError(f"{where}: missing {', '.join(missing)}")
        if raw["answerable"] and not raw.get("gold"):
            raise DatasetError(f"{where} ({raw['id']}): an answerable case needs at least one gold passage")
        kind = raw.get("kind") or ("follow-up" if raw.get("history") else "answerable" if raw["answerable"] else "unanswerable")
        return cls(str(raw["id"]), str(raw["question"]), bool(raw["answerable"]), list(raw.get("gold") or []),
                   [list(g) for g in raw.get("facts") or []], [list(t) for t in raw.get("history") or []], kind,
                   _split(raw, where), str(raw.get("of") or ""))


def _split(raw: dict, where: str) -> str:
    split = raw.get("split", "")
    if split not in ("", "dev", "test"):
        raise DatasetError(f"{where} ({raw['id']}): split must be 'dev' or 'test', not {split!r}")
    return split


def sample(cases: list[Case], n: int) -> list[Case]:
    """A deterministic subset of at most n cases (n when there are as many), every kind represented while n
    allows (one case each, the largest kinds first), the rest shared among the kinds in proportion."""
    kinds: dict[str, list[Case]] = {}
    for c in cases:
        kinds.setdefault(c.kind, []).append(c)
    n = min(n, len(cases))
    groups = sorted(kinds.values(), key=len, reverse=True)  # stable: equal kinds keep the dataset's order
    want = [1 if i < n else 0 for i in range(len(groups))]
    for _ in range(n - sum(want)):  # each further case to the kind furthest below its proportional share
        i = max((i for i, g in enumerate(groups) if want[i] < len(g)),
                key=lambda i: (n * len(groups[i]) / len(cases) - want[i], -i))
        want[i] += 1
    picked = set()
    for group, k in zip(groups, want):
        step = len(group) / k if k else 0
        picked |= {group[int(i * step)].id for i in range(k)}
    return [c for c in cases if c.id in picked]


def load_dataset(path: Path) -> list[Case]:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no dataset at {path}")
    cases, seen = [], set()
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            case = Case.parse(line, f"{path.name} line {i}")
            if case.id in seen:
                raise DatasetError(f"{path.name} line {i}: the id {case.id!r} is used twice")
            seen.add(case.id)
            cases.append(case)
    if not cases:
        raise DatasetError(f"{path} holds no cases")
    return cases


# ---- one case -------------------------------------------------------------------------------------
def score_case(case: Case, answer: dict, retrieved_texts: list[str], k: int, scorer: SupportScorer, judge=None,
               dataset: str = "") -> dict:
    row = {"id": case.id, "dataset": dataset, "split": case.split, "kind": case.kind, "question": case.question, "answerable": case.answerable,
           "answer": answer["answer"], "refused": answer["refused"], "backend": answer.get("backend"),
           "latency_ms": answer.get("latency_ms"), "ttft_ms": (answer.get("timings") or {}).get("ttft_ms"),
           "timings": answer.get("timings") or {},  # each step's time (retrieval, draft, confirmation, summary)
           "citations": [{"n": c["n"], "title": c["title"], "section": c["section"], "text": c["text"]}
                         for c in answer.get("citations", [])],
           "unsupported": answer.get("unsupported", []), "retrieved_texts": retrieved_texts,
           "notice": answer.get("notice"), "reasons": [], "sentences": [], "draft": answer.get("draft", ""),
           "check": answer.get("check") or {}, "partial": answer.get("partial"),
           "gate_probability": (answer.get("gate") or {}).get("probability"),
           "gate_threshold": (answer.get("gate") or {}).get("threshold")}
    reasons = row["reasons"]
    row.update(draft_scores(row["draft"], row["check"], retrieved_texts, scorer))
    if case.answerable:
        row.update(retrieval_scores(retrieved_texts, case.gold, k))
        if not row["hit"]:
            reasons.append("gold passage not retrieved")
        row["answerable_refused"] = 1.0 if answer["refused"] else 0.0
        if answer["refused"]:
            reasons.append("refused a question the sources answer")
    else:
        row["unanswerable_refused"] = 1.0 if answer["refused"] else 0.0
        if not answer["refused"]:
            reasons.append("answered a question the sources do not cover")
    if not answer["refused"]:
        scores, checks = answer_scores(answer, retrieved_texts, scorer)
        row.update(scores)
        row["sentences"] = [{"n": c.n, "text": c.text, "cited": c.cited, "supported": c.supported_by_citations,
                             "grounded": c.grounded} for c in checks]
        if judge is not None and checks:
            row.update(judge_scores(row, answer, retrieved_texts, judge))
        reasons += [c.reason for c in checks if c.reason]
        if not checks:
            reasons.append("the answer has no sentence")
        if scores["citation_validity"] < 1:
            reasons.append("a citation points at a passage that was not retrieved")
        if case.answerable:
            row["fact_recall"], missing = fact_recall(answer["answer"], case.facts)
            reasons += [f"the fact “{m}” is missing" for m in missing]
    row["passed"] = not reasons
    # for the risk-coverage curve: right if answered, i.e. answerable and, when it was answered, no fact missing
    row["right_if_answered"] = bool(case.answerable and (answer["refused"] or (row.get("fact_recall") if row.get("fact_recall") is not None else 1.0) >= 1.0))
    return row


def risk_coverage_of(rows: list[dict]) -> dict | None:
    """The risk-coverage curve of the run by the gate's probability (questions answered against the share of
    the answered that were answerable and right; a refused answerable question counts as right had it been
    answered), and the point where the gate's threshold sits."""
    from assistant.answering.gate import risk_coverage

    scored = [(r["gate_probability"], r["right_if_answered"]) for r in rows if r.get("gate_probability") is not None]
    if not scored:
        return None
    threshold = next((r["gate_threshold"] for r in rows if r.get("gate_threshold") is not None), 0.0)
    answered = [right for p, right in scored if p >= threshold]
    return {"curve": risk_coverage(scored), "threshold": threshold,
            "point": {"coverage": round(len(answered) / len(scored), 4),
                      "accuracy": round(sum(answered) / len(answered), 4) if answered else None}}


def draft_scores(draft: str, check: dict, retrieved_texts: list[str], scorer: SupportScorer) -> dict:
    """The raw draft before the support check: how much of it one retrieved passage supports, how much the
    check dropped, and whether the answer fell back (None where nothing was drafted)."""
    if not check or check.get("fallback") == "not drafted":
        return {}
    sents = cited_sentences(draft)
    out = {"fallback_rate": 1.0 if check.get("fallback") in ("extractive", "refusal") else 0.0}
    if sents and check.get("draft_sentences"):
        out["draft_groundedness"] = sum(best_support(scorer, s, retrieved_texts)[1].supported for s, _ in sents) / len(sents)
        out["dropped_sentences"] = check["dropped"] / check["draft_sentences"]
    return out


def judge_scores(row: dict, answer: dict, retrieved_texts: list[str], judge) -> dict:
    """The independent judge's groundedness and citation precision of a final answer; marks each sentence."""
    cites = {c["n"]: c["text"] for c in answer.get("citations", [])}
    stated, precise, n_citations = 0, 0, 0
    for s in row["sentences"]:
        s["judge"] = judge.best(s["text"], retrieved_texts)
        stated += s["judge"]
        texts = [cites[n] for n in s["cited"] if n in cites]
        n_citations += len(s["cited"])
        precise += sum(judge.supported([(s["text"], t) for t in texts]))
    return {"judge_groundedness": stated / len(row["sentences"]),
            "judge_citation_precision": precise / n_citations if n_citations else 0.0}


# ---- calibration ---------------------------------------------------------------------------------
def calibrate(labels_dir: Path, scorer_factory=LexicalSupportScorer) -> dict | None:
    """Pick the support threshold that maximises balanced accuracy on hand-labelled sentences."""
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score

    rows = []
    for f in [Path(labels_dir) / "support.jsonl"]:  # the labels the chain's threshold was set on (the judge's are apart)
        if not f.exists():
            continue
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                r = json.loads(line)
                if not {"sentence", "passage", "supported"} <= set(r):
                    raise DatasetError(f"{f.name} line {i}: a label needs sentence, passage and supported")
                rows.append(r)
    if not rows:
        return None
    base = scorer_factory()
    scored = [(base.score(r["sentence"], r["passage"]), bool(r["supported"])) for r in rows]
    truth = [y for _, y in scored]
    best = None
    for t in sorted({round(s.recall, 4) for s, _ in scored} | {0.0, 1.0}):
        pred = [s.recall >= t and not s.missing_facts for s, _ in scored]
        acc = balanced_accuracy_score(truth, pred) if len(set(truth)) > 1 else float(pred == truth)
        if best is None or acc > best[1] + 1e-12:
            best = (t, acc, pred)
    current = [s.supported for s, _ in scored]
    kappa = cohen_kappa_score(truth, current) if len(set(truth + current)) > 1 else 1.0
    return {"labels": len(rows), "supported": sum(truth), "best_threshold": best[0],
            "best_balanced_accuracy": round(best[1], 4), "threshold_in_use": base.threshold,
            "balanced_accuracy_in_use": round(balanced_accuracy_score(truth, current), 4) if len(set(truth)) > 1 else None,
            "cohen_kappa_in_use": round(float(kappa), 4)}


# ---- the run ---------------------------------------------------------------------------------------
def summarise(rows: list[dict]) -> dict:
    out = {}
    for name in METRICS:
        pool = [r for r in rows if r.get(name) is not None]
        if name in ("hit", "recall", "mrr", "ndcg"):
            pool = [r for r in pool if r["answerable"]]
        out[name] = {**mean_ci([r[name] for r in pool]), "formula": METRICS[name][0]}
    lat = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    ttft = [r["ttft_ms"] for r in rows if r.get("ttft_ms") is not None and not r["refused"]]
    out["latency_ms"] = {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "ttft_p50": percentile(ttft, 50),
                         "ttft_p95": percentile(ttft, 95)}
    out["cases"] = {"total": len(rows), "passed": sum(r["passed"] for r in rows),
                    "answerable": sum(r["answerable"] for r in rows),
                    "unanswerable": sum(not r["answerable"] for r in rows)}
    return out


def check_gates(summary: dict, gates: dict) -> list[str]:
    """Missed gates in words; `gates` maps metric -> minimum (or, for answerable_refused, maximum)."""
    missed = []
    for name, bound in (gates or {}).items():
        if name not in METRICS:
            raise DatasetError(f"the gates file names an unknown metric {name!r}; known: {', '.join(METRICS)}")
        value = summary[name]["mean"]
        higher = METRICS[name][1]
        if value is None:
            missed.append(f"{name}: no case to measure it on")
        elif (higher and value < bound) or (not higher and value > bound):
            missed.append(f"{name} = {value:.3f}, gate {'>=' if higher else '<='} {bound}")
    return missed


def compare(rows: list[dict], summary: dict, old: dict) -> dict:
    deltas = {}
    for name in METRICS:
        a, b = summary[name]["mean"], (old.get("summary", {}).get(name) or {}).get("mean")
        deltas[name] = None if a is None or b is None else round(a - b, 4)
    older = old.get("cases", [])
    by_dataset = all("dataset" in r for r in older)  # reports from before several datasets are matched by id

    def key(r):
        return (r["dataset"], r["id"]) if by_dataset else r["id"]

    before = {key(r): r["passed"] for r in older}
    changed = [{"id": r["id"], "dataset": r.get("dataset", ""), "question": r["question"],
                "was": "pass" if before[key(r)] else "fail", "now": "pass" if r["passed"] else "fail"}
               for r in rows if key(r) in before and before[key(r)] != r["passed"]]
    return {"previous": old.get("meta", {}).get("finished"), "deltas": deltas, "changed": changed}


def knowledge_for(dataset: Path, knowledge: Path | None) -> Path | None:
    """The documents a dataset is answered from: `--knowledge` when given; else a `docs/` folder beside the
    dataset file (the layout of a generalization corpus); else None, the configured index."""
    if knowledge is not None:
        return Path(knowledge)
    beside = Path(dataset).parent / "docs"
    return beside if beside.is_dir() else None


def dataset_name(path: Path) -> str:
    path = Path(path)
    return path.parent.name if path.stem == "cases" else path.stem


def run_eval(settings, datasets: list[Path], out_dir: Path, backend: str | None = None, compare_to: Path | None = None,
             gates_file: Path | None = None, sample_size: int | None = None, progress: bool = True, assistant=None,
             knowledge: Path | None = None, on_progress=None) -> dict:
    """Run every dataset (each against its own documents, see `knowledge_for`) and write the report;
    `on_progress(done, total)` is called after each case."""
    from tqdm import tqdm

    from assistant.answering.pipeline import assistant_over, build_assistant
    from assistant.evaluation.judge import calibrated_judge

    groups = []
    for path in datasets:
        cases = load_dataset(path)
        groups.append((dataset_name(path), sample(cases, sample_size) if sample_size else cases, knowledge_for(path, knowledge)))
    names = [g[0] for g in groups]
    if len(set(names)) < len(names):
        raise DatasetError(f"two datasets share a name ({', '.join(names)}): rename one file")
    old = None
    if compare_to:
        try:
            old = json.loads(Path(compare_to).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DatasetError(f"cannot read the report to compare with, {compare_to}: {exc}") from exc
    if backend:
        settings = settings.model_copy(update={"llm_backend": backend})
    started = time.time()
    base = assistant or build_assistant(settings)
    scorer = base.scorer
    embedder = base.retriever.embedder
    embedder.embed(["warm up"])  # loading the embedder is not a question's latency
    judge, judge_figures = calibrated_judge(embedder, ROOT / "evals" / "labels", scorer)
    total, rows = sum(len(g[1]) for g in groups), []
    bar = tqdm(total=total, desc=f"eval ({settings.llm_backend})", unit="case", disable=not progress)
    for name, cases, docs in groups:
        store = settings.resolved(settings.store_dir).parent / "eval-index" / name  # beside the index
        here = base if docs is None else assistant_over(settings, docs, store, embedder, base.chat_model)
        for case in cases:
            try:
                answer = here.ask(case.question, case.history).to_dict()
            except AssistantError as exc:
                answer = {"answer": "", "refused": True, "citations": [], "retrieved": [], "error": exc.message}
            texts = [here.retriever.chunks[i].text for i in answer.get("retrieved", []) if i in here.retriever.chunks]
            row = score_case(case, answer, texts, settings.top_k, scorer, judge, name)
            if answer.get("error"):
                row["reasons"].insert(0, f"error: {answer['error']}")
                row["passed"] = False
            rows.append(row)
            bar.update(1)
            if on_progress:
                on_progress(len(rows), total)
    bar.close()
    summary = summarise(rows)
    splits = {split: summarise(part) for split in ("dev", "test") if (part := [r for r in rows if r["split"] == split])}
    by_dataset = {name: summarise([r for r in rows if r["dataset"] == name]) for name in names} if len(names) > 1 else {}
    gated = "test" if "test" in splits else "all"  # gates apply to the split nobody tuned on, when there is one
    gates = {}
    if gates_file and Path(gates_file).exists():
        gates = (yaml.safe_load(Path(gates_file).read_text(encoding="utf-8")) or {}).get(settings.llm_backend, {})
    report = {
        "meta": {"datasets": [str(p) for p in datasets], "dataset": ", ".join(names), "backend": settings.llm_backend,
                 "knowledge": {name: str(docs) if docs else str(settings.knowledge_dir) for name, _, docs in groups},
                 "cases": len(rows), "sample": sample_size, "top_k": settings.top_k,
                 "support_threshold": scorer.threshold, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                 "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.time() - started, 1)},
        "summary": summary, "splits": splits, "by_dataset": by_dataset, "judge": judge_figures,
        "calibration": calibrate(ROOT / "evals" / "labels"),
        "gates": {"split": gated, "thresholds": gates, "missed": check_gates(splits.get(gated, summary), gates)},
        "answer_gate": answer_gate_figures(settings), "risk_coverage": risk_coverage_of(rows),
        "by_kind": {kind: summarise([r for r in rows if r["kind"] == kind]) for kind in sorted({r["kind"] for r in rows})},
        "comparison": compare(rows, summary, old) if old else None, "cases": rows,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    from assistant.evaluation.report import render_report

    (out_dir / "report.html").write_text(render_report(report), encoding="utf-8")
    return report


def answer_gate_figures(settings) -> dict | None:
    """The answer gate's ablation (what each signal adds, on the test rows of its data), if its data is here."""
    from assistant.answering import gate as gates

    path = settings.resolved(settings.gate_file)
    data = path.parent / "signals.jsonl"
    if not data.exists():
        return None
    rows = gates.read_rows(data)
    return {"data": str(data), "rows": len(rows), "budget": settings.refusal_budget,
            "ablation": gates.ablation(rows, settings.refusal_budget, settings.wrong_answer_cost)}


def terminal_summary(report: dict, out_dir: Path) -> str:
    s, m = report["summary"], report["meta"]
    lines = [f"{m['cases']} cases on {m['backend']} in {m['seconds']} s; {s['cases']['passed']} passed"]
    for name in METRICS:
        v = s[name]
        if v["mean"] is None:
            lines.append(f"  {name:20s}   n/a")
        else:
            delta = (report.get("comparison") or {}).get("deltas", {}).get(name)
            lines.append(f"  {name:20s} {v['mean']:.3f}  [{v['low']:.3f}, {v['high']:.3f}]  n={v['n']}"
                         + (f"  ({delta:+.3f})" if delta else ""))
    lat = s["latency_ms"]
    lines.append(f"  latency p50 {lat['p50']} ms, p95 {lat['p95']} ms; first token p50 {lat['ttft_p50']} ms")
    for split, sp in report.get("splits", {}).items():
        lines.append(f"  {split} split ({sp['cases']['total']} cases): " + ", ".join(
            f"{name} {sp[name]['mean']:.3f}" for name in ("hit", "fact_recall", "answerable_refused", "unanswerable_refused")
            if sp[name]["mean"] is not None))
    for kind, ks in (report.get("by_kind") or {}).items():
        shown = [f"{n} {ks[n]['mean']:.3f}" for n in ("fact_recall", "answerable_refused", "unanswerable_refused", "groundedness")
                 if ks.get(n, {}).get("mean") is not None]
        lines.append(f"kind {kind} ({ks['cases']['total']} cases): " + ", ".join(shown))
    rc = report.get("risk_coverage")
    if rc:
        from assistant.answering.gate import curve_table

        point = rc["point"]
        lines.append(f"risk-coverage (all cases, by the gate's probability): at its threshold {rc['threshold']:.3f}, "
                     f"{point['coverage']:.1%} answered, {point['accuracy'] if point['accuracy'] is None else format(point['accuracy'], '.1%')} of those right")
        lines.append(curve_table(rc["curve"], rc["threshold"]))
    if report.get("answer_gate"):
        from assistant.answering.gate import ablation_table

        lines.append("answer gate, " + ablation_table(report["answer_gate"]["ablation"]))
    judge = report.get("judge")
    if judge:
        lines.append(f"  independent judge on {judge['test_labels']} held-out labels: balanced accuracy "
                     f"{judge['balanced_accuracy']}, kappa {judge['kappa']} (the chain's scorer: "
                     f"{judge['chain_scorer']['balanced_accuracy']}, {judge['chain_scorer']['kappa']})")
    for name, ds in report.get("by_dataset", {}).items():
        lines.append(f"  dataset {name} ({ds['cases']['total']} cases): " + ", ".join(
            f"{m} {ds[m]['mean']:.3f}" for m in ("hit", "fact_recall", "answerable_refused", "unanswerable_refused",
                                                  "judge_groundedness") if ds[m]["mean"] is not None))
    cal = report.get("calibration")
    if cal:
        lines.append(f"  calibration on {cal['labels']} labels: threshold {cal['threshold_in_use']} -> balanced accuracy "
                     f"{cal['balanced_accuracy_in_use']}, kappa {cal['cohen_kappa_in_use']} (best {cal['best_threshold']})")
    failed = [r["id"] for r in report["cases"] if not r["passed"]]
    if failed:
        shown = ", ".join(failed[:30]) + (f" and {len(failed) - 30} more (report.html lists them)" if len(failed) > 30 else "")
        lines.append(f"  failed ({len(failed)}): " + shown)
    missed = report["gates"]["missed"]
    lines.append(f"gates ({report['gates'].get('split', 'all')} split): " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    lines.append(f"report: {Path(out_dir) / 'report.html'}")
    return "\n".join(lines)
