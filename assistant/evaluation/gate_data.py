"""The labelled signals the answer gate is fitted on, collected by running the assistant with the gate open.

Two sources, each with a dev part (fitted on) and a test part (only reported):
- the doctrine cases against `knowledge/`, each with its own `split`: the gold set (`evals/datasets/gold.jsonl`)
  and its rewordings as trainees type them (`evals/datasets/reworded.jsonl`: lower case, typos, other words);
- a generalization corpus in the layout of `../shared/generalization/squad2-dev` (`docs/`, `cases.jsonl`
  with an `article` per case), indexed into a temporary store. Its articles are split, not its
  questions: in alphabetical order, the 1st, 3rd, 5th ... article is dev and the others test, so the
  test articles are never seen while fitting. The extractive drafter is asked every case (`corpus_for`); the
  chat model a fixed, seeded sample per article, half answerable and half not.
Out-of-scope questions at scale, by construction (`cimic gate --add lodo oos`, appended to the rows; `--add corpus`
appends the corpus cases not collected yet):
- *leave one document out* (sources `gold-lodo`, `<corpus>-lodo`): every answerable case whose gold passages
  all lie in one document, asked against an index built without that document (and without what is derived
  from it: a glossary whose `source_doc` names it) is a question with in-domain words that the index does
  not answer. One index, changed by the incremental ingest: a document out, its cases asked, back in.
- *written* out-of-scope doctrine questions (`evals/datasets/out_of_scope.jsonl`, source `oos`), with their
  own dev/test split.
Every row: {"source", "id", "group" (what its case is not independent of: a corpus case's article, a rewording's
original; empty where the case's own id, without a left-out document, is its group: `gate.group_of`), "split",
"kind" ("extractive" or "llm"), "answerable", "signals"}. Adding is resumable: a row already in the file (same
source, id and kind) is not collected again, and each row is
written as soon as it is collected. After a retrieval signal's definition changes, `cimic gate --refresh`
measures every row's retrieval signals again without drafting (`refresh`), the chat model's draft signals kept.
Leaves out: the fitting itself (`gate.py`).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from assistant.answering.gate import OpenGate
from assistant.answering.signals import RETRIEVAL_SIGNALS
from assistant.errors import ConfigError, DocumentError
from assistant.evaluation.runner import Case, load_dataset
from assistant.ingest.loaders import LOADERS, load
from assistant.language import norm_ws

def article_split(articles: list[str]) -> dict[str, str]:
    return {a: ("dev" if i % 2 == 0 else "test") for i, a in enumerate(sorted(set(articles)))}


def corpus_cases(corpus: Path, per_article: int | None, splits=("dev", "test"), seed: int = 13) -> list[Case]:
    """A fixed sample of a generalization corpus's cases, `per_article` per article (half unanswerable); every case
    of the articles where `per_article` is None."""
    raw = [json.loads(x) for x in (corpus / "cases.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    split = article_split([r["article"] for r in raw])
    rng = random.Random(seed)
    out = []
    for article in sorted(split):
        if split[article] not in splits:
            continue
        for answerable in (True, False):
            group = [r for r in raw if r["article"] == article and r["answerable"] == answerable]
            for r in group if per_article is None else rng.sample(group, min(len(group), per_article // 2)):
                out.append(Case(r["id"], r["question"], r["answerable"], r.get("gold") or [], r.get("facts") or [],
                                [], r.get("kind", "answerable" if answerable else "unanswerable"), split[article], article))
    return out


def rows_for(assistant, cases: list[Case], source: str, progress=None, done: set | None = None, sink=None,
             retrieval_only: bool = False, confirm: set | None = None) -> list[dict]:
    """Each case asked with the gate open: its labelled signals, and whether its points are quoted (`points_quoted`:
    `gate.rows_of` reads which model decides it). `done`: (source, id, kind) already collected, skipped; `sink`:
    called with each row as soon as it is collected; `retrieval_only`: the retrieval signals alone, nothing drafted,
    and, for the cases of `confirm` ((source, id)) whose points are quoted, the assistant's chat model's confirmation
    of them (`model_confirms`, `Assistant.points_confirmation`)."""
    rows = []
    for i, case in enumerate(cases):
        if done is not None and (source, case.id, assistant.kind) in done:
            continue
        prep = assistant.prepared(case.question, case.history)
        if retrieval_only:
            signals = {s: v for s, v in prep.signals.as_dict().items() if s in RETRIEVAL_SIGNALS}
            if prep.gate_kind == "points" and (source, case.id) in (confirm or ()):
                signals["model_confirms"] = assistant.points_confirmation(prep)
        else:
            signals = assistant.ask(case.question, case.history).gate["signals"]
        row = {"source": source, "id": case.id, "group": case.group, "split": case.split, "kind": assistant.kind,
               "points_quoted": prep.points_quoted, "answerable": case.answerable, "signals": signals}
        rows.append(row)
        if sink:
            sink(row)
        if progress:
            progress(i + 1, len(cases))
    return rows


def _derived(docs_dir: Path, doc: Path) -> list[Path]:
    """The files indexed from `doc`'s content: a YAML file whose `source_doc` names it (the glossary)."""
    import yaml

    out = []
    for f in sorted(docs_dir.glob("*.yaml")):
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and data.get("source_doc") == doc.stem:
            out.append(f)
    return out


def held_by_one_document(docs_dir: Path, cases: list[Case]) -> dict[Path, list[Case]]:
    """The answerable cases whose gold passages all lie in one document of `docs_dir` (whitespace-normalised)."""
    texts = {}
    for f in sorted(docs_dir.iterdir()):
        if f.suffix.lower() in LOADERS:  # each file's text as the ingest reads it (a PDF's, a .docx's too)
            try:
                texts[f] = norm_ws(load(f).text)
            except DocumentError:
                continue  # the ingest skips it too: it answers nothing
    out: dict[Path, list[Case]] = {}
    for case in cases:
        if not case.answerable or not case.gold:
            continue
        found = [{f for f, t in texts.items() if norm_ws(g) in t} for g in case.gold]
        holders = set().union(*found)
        if len(holders) == 1 and all(found):
            out.setdefault(holders.pop(), []).append(case)
    return out


def leave_one_out(settings, embedder, docs_dir: Path, cases: list[Case], source: str, chat_models: list,
                  progress=None, done: set | None = None, sink=None, retrieval_only: bool = False,
                  confirm: set | None = None) -> list[dict]:
    """Unanswerable rows by construction: each document left out of the index in turn, and the cases it
    alone answers asked without it (ids `<case>@-<document>`), once per chat model (None: extractive)."""
    from assistant.answering.pipeline import assistant_over

    groups = held_by_one_document(docs_dir, cases)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cimic-lodo-") as tmp:
        knowledge, aside = Path(tmp) / "knowledge", Path(tmp) / "aside"
        shutil.copytree(docs_dir, knowledge)
        aside.mkdir()
        for doc, group in groups.items():
            out = [knowledge / doc.name] + [knowledge / f.name for f in _derived(docs_dir, doc)]
            for f in out:
                f.rename(aside / f.name)
            try:
                asked = [replace(c, id=f"{c.id}@-{doc.stem}", answerable=False) for c in group]
                for model in chat_models:
                    there = assistant_over(settings, knowledge, Path(tmp) / "store", embedder, model, OpenGate())
                    rows += rows_for(there, asked, source, progress, done, sink, retrieval_only, confirm)
            finally:
                for f in out:
                    (aside / f.name).rename(f)
    return rows


def collect(settings, embedder, gold: list[Path], corpus: Path | None, per_article: int, llm_sample: int,
            chat_model=None, progress=None) -> list[dict]:
    """Signals for the extractive drafter on every doctrine case (the gold set and its rewordings, one source)
    and every case of the corpus, and, with a chat model, for the llm drafter on the same doctrine cases and the
    corpus's sample (`corpus_for`)."""
    from assistant.answering.pipeline import assistant_over, build_assistant

    gold_cases = [case for path in gold for case in load_dataset(path)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cimic-gate-") as tmp:
        for model in ([None, chat_model] if chat_model is not None else [None]):
            here = build_assistant(settings.model_copy(update={"llm_backend": "extractive" if model is None else settings.llm_backend}),
                                   embedder=embedder, chat_model=model, gate=OpenGate())
            rows += rows_for(here, gold_cases, "gold", progress)
            if corpus:
                there = assistant_over(settings, corpus / "docs", Path(tmp) / "store", embedder, model, OpenGate())
                rows += rows_for(there, corpus_for(model, corpus, per_article, llm_sample), corpus.name, progress)
    return rows


def corpus_for(model, corpus: Path, per_article: int, llm_sample: int, dev_only: bool = False,
               answerable_only: bool = False) -> list[Case]:
    """The corpus cases a drafter is asked: every case for the extractive one (None: a tenth of a second each, and
    its gate's 5% ceiling on false refusals is read on them, so on hundreds of answerable rows rather than a sample's
    few dozen), a fixed sample of `per_article` per article thinned to `llm_sample` for a chat model (seconds each;
    `dev_only`: the dev articles' alone, as the fit reads no others)."""
    cases = [c for c in corpus_cases(corpus, None if model is None else per_article) if c.answerable or not answerable_only]
    return cases if model is None else _thin(_for(model, cases) if dev_only else cases, llm_sample)


def _thin(cases: list[Case], n: int) -> list[Case]:
    if n >= len(cases):
        return cases
    step = len(cases) / n
    return [cases[int(i * step)] for i in range(n)]


OUT_OF_SCOPE = "evals/datasets/out_of_scope.jsonl"


def add(settings, embedder, parts: set[str], gold: list[Path], corpus: Path | None, per_article: int, llm_sample: int,
        chat_model=None, done: set | None = None, sink=None, progress=None, chat_only: bool = False) -> list[dict]:
    """Rows not collected yet (`parts`), for the extractive drafter and, with a chat model, the llm drafter: "gold",
    the doctrine cases of `gold` (a dataset added to the doctrine source, such as the open questions); "oos", the
    written out-of-scope cases; "lodo", doctrine and corpus cases with their document left out; "corpus", the
    corpus's cases. The chat model drafts the dev cases only (the fit reads no others; about 6 s a case on 2
    cores). `chat_only`: the chat model's rows alone, the extractive drafter's left as they are."""
    from assistant.answering.pipeline import build_assistant
    from assistant.config import ROOT

    models = [None, chat_model] if chat_model is not None else [None]
    if chat_only:
        if chat_model is None:
            raise ConfigError("rows of the chat model alone need a chat back-end: --backend local or openai")
        models = [chat_model]
    rows = []
    for part, source, cases in (("gold", "gold", lambda: [case for path in gold for case in load_dataset(path)]),
                                ("oos", "oos", lambda: load_dataset(ROOT / OUT_OF_SCOPE))):
        if part not in parts:
            continue
        for model in models:
            here = build_assistant(settings.model_copy(update={"llm_backend": "extractive" if model is None else settings.llm_backend}),
                                   embedder=embedder, chat_model=model, gate=OpenGate())
            rows += rows_for(here, _for(model, cases()), source, progress, done, sink)
    if "lodo" in parts:
        doctrine = [case for path in gold for case in load_dataset(path)]
        for model in models:
            rows += leave_one_out(settings, embedder, settings.resolved(settings.knowledge_dir), _for(model, doctrine),
                                  "gold-lodo", [model], progress, done, sink)
        if corpus:
            for model in models:
                cases = corpus_for(model, corpus, per_article, llm_sample, dev_only=True, answerable_only=True)
                rows += leave_one_out(settings, embedder, corpus / "docs", cases, f"{corpus.name}-lodo", [model],
                                      progress, done, sink)
    if "corpus" in parts and corpus:
        from assistant.answering.pipeline import assistant_over

        with tempfile.TemporaryDirectory(prefix="cimic-gate-") as tmp:
            for model in models:
                there = assistant_over(settings, corpus / "docs", Path(tmp) / "store", embedder, model, OpenGate())
                rows += rows_for(there, corpus_for(model, corpus, per_article, llm_sample, dev_only=True), corpus.name,
                                 progress, done, sink)
    return rows


def _for(model, cases: list[Case]) -> list[Case]:
    """The cases a drafter is asked: all for the extractive one (None), the dev ones for a chat model."""
    return cases if model is None else [c for c in cases if c.split == "dev"]


def refresh(settings, embedder, rows: list[dict], gold: list[Path], corpus: Path | None, progress=None,
            chat_model=None) -> tuple[list[dict], int]:
    """The rows with their retrieval signals measured again by the code as it is now, their draft signals (the
    chat model's) kept: after a retrieval signal's definition changes, the gate is refitted without drafting again
    (minutes, not hours). With `chat_model`, the chat model's rows whose points are quoted get its confirmation of
    them measured again too (`model_confirms`: about 2 s a row on 2 cores; the model's rows are its own, so the
    back-end must be the one that collected them). Each case is asked once, of the index its row was collected from
    (its document left out for a `-lodo` source). Returns the rows and how many could not be measured again (kept as
    they were)."""
    from assistant.answering.pipeline import assistant_over, build_assistant
    from assistant.config import ROOT

    wanted = {(r.get("source"), r["id"]) for r in rows}
    confirm = {(r.get("source"), r["id"]) for r in rows if r["kind"] == "llm"} if chat_model is not None else set()
    fresh: dict[tuple, dict] = {}

    def keep(cases, source):
        return [c for c in cases if (source, c.id) in wanted]

    def take(measured):
        for r in measured:
            fresh[(r["source"], r["id"])] = r

    backend = settings.llm_backend if chat_model is not None else "extractive"
    here = build_assistant(settings.model_copy(update={"llm_backend": backend}), embedder=embedder, chat_model=chat_model,
                           gate=OpenGate())
    doctrine = [case for path in gold for case in load_dataset(path)]
    take(rows_for(here, keep(doctrine, "gold"), "gold", progress, retrieval_only=True, confirm=confirm))
    take(rows_for(here, keep(load_dataset(ROOT / OUT_OF_SCOPE), "oos"), "oos", progress, retrieval_only=True,
                  confirm=confirm))
    take(leave_one_out(settings, embedder, settings.resolved(settings.knowledge_dir), doctrine, "gold-lodo", [chat_model],
                       progress, retrieval_only=True, confirm=confirm))
    if corpus:
        sample = corpus_cases(corpus, None)  # every case: `keep` takes the rows' own, whichever sample they came from
        with tempfile.TemporaryDirectory(prefix="cimic-gate-") as tmp:
            there = assistant_over(settings, corpus / "docs", Path(tmp) / "store", embedder, chat_model, OpenGate())
            take(rows_for(there, keep(sample, corpus.name), corpus.name, progress, retrieval_only=True, confirm=confirm))
        take(leave_one_out(settings, embedder, corpus / "docs", [c for c in sample if c.answerable],
                           f"{corpus.name}-lodo", [chat_model], progress, retrieval_only=True, confirm=confirm))
    return merged(rows, fresh)


def merged(rows: list[dict], fresh: dict[tuple, dict]) -> tuple[list[dict], int]:
    """Each row (of either drafter) with the retrieval signals measured again for its (source, id) (`fresh`: rows
    as `rows_for` gives them) in place of its own, and whether its points are quoted (`points_quoted`), its draft
    signals kept, save a chat model's row whose points are quoted: it takes the confirmation of them where one was
    measured again; and how many rows had none measured again (kept as they were)."""
    out, missed = [], 0
    for r in rows:
        new = fresh.get((r.get("source"), r["id"]))
        missed += new is None
        if new is None:
            out.append(r)
            continue
        measured = {s: v for s, v in new["signals"].items() if s in RETRIEVAL_SIGNALS}
        if r["kind"] == "llm" and new["points_quoted"] and "model_confirms" in new["signals"]:
            measured["model_confirms"] = new["signals"]["model_confirms"]
        out.append({**r, "signals": {**r["signals"], **measured}, "points_quoted": new["points_quoted"]})
    return out, missed
