"""The `cimic` command line: ingest, ask, eval, gate, grader, forms, serve, feedback.

Each sub-command builds what it needs from `Settings()` when it runs; nothing heavy is imported
before a sub-command is chosen, so `cimic --help` is instant. User-facing errors
(`AssistantError`) become one line on stderr and exit status 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from assistant.errors import AssistantError, ConfigError


def _settings(args):
    from assistant.config import Settings

    overrides = {}
    if getattr(args, "backend", None):
        overrides["llm_backend"] = args.backend
    return Settings(**overrides)


def cmd_ingest(args) -> int:
    from assistant.index.embeddings import make_embedder
    from assistant.ingest.indexer import ingest

    settings = _settings(args)
    target = settings.chroma_url or settings.store_dir
    print(f"indexing {settings.knowledge_dir} into {target}", file=sys.stderr)
    report = ingest(settings, make_embedder(settings), progress=sys.stderr.isatty() or args.progress,
                    rebuild=args.rebuild)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(report.summary())
    return 0


def _print_answer(answer) -> None:
    print(answer.answer)
    if answer.notice:
        print(f"\nnotice: {answer.notice}")
    for c in answer.citations:
        where = f"{c.title}" + (f" — {c.section}" if c.section else "") + (f", p. {c.page}" if c.page else "")
        print(f"\n[{c.n}] {where}\n    {' '.join(c.text.split())[:400]}")
    if answer.unsupported:
        print("\ndropped as unsupported: " + " | ".join(answer.unsupported))
    print(f"\n({answer.backend}, grounding {answer.grounding:.2f}, {answer.latency_ms} ms)")


def _read_batch(path: str):
    from assistant.errors import InvalidQuestion

    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidQuestion(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(case, dict) or "question" not in case:
                raise InvalidQuestion(f"{path}:{lineno}: each line needs an object with 'question' (and 'id', 'history')")
            yield case


def cmd_ask(args) -> int:
    from assistant.answering.pipeline import build_assistant

    settings = _settings(args)
    if args.batch:
        cases = list(_read_batch(args.batch))
        assistant = build_assistant(settings)
        for case in cases:
            try:
                out = assistant.ask(case["question"], case.get("history") or []).to_dict()
            except AssistantError as exc:
                out = {"error": exc.message}
            out["id"] = case.get("id")
            print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0
    if not args.question:
        raise AssistantError("give a question, e.g. cimic ask \"What is CIMIC?\", or --batch FILE.jsonl")
    history = json.loads(args.history) if args.history else []
    answer = build_assistant(settings).ask(args.question, history)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def cmd_serve(args) -> int:
    from assistant.web.server import serve

    serve(_settings(args), args.host, args.port)
    return 0


def cmd_model(args) -> int:
    from assistant.index.embeddings import export_onnx
    from assistant.llm.model_file import ensure_model

    settings = _settings(args)
    print(ensure_model(settings.model_dir))
    if settings.embedder == "onnx-int8":
        print(export_onnx(settings.resolved(settings.model_dir)))
    return 0


def cmd_eval(args) -> int:
    from assistant.config import ROOT
    from assistant.evaluation.runner import run_eval, terminal_summary

    settings = _settings(args)
    out = Path(args.out or settings.resolved(settings.eval_reports_dir) / time.strftime("%Y%m%d-%H%M%S"))
    report = run_eval(settings, [Path(d) for d in args.dataset or [ROOT / "evals" / "datasets" / "gold.jsonl"]], out, backend=args.backend,
                      knowledge=Path(args.knowledge) if args.knowledge else None,
                      compare_to=Path(args.compare) if args.compare else None,
                      gates_file=Path(args.gates) if args.gates else None, sample_size=args.sample,
                      progress=not args.quiet)
    print(terminal_summary(report, out))
    return 1 if report["gates"]["missed"] else 0


def cmd_gate(args) -> int:
    """Collect the gate's labelled signals (slow: runs the assistant), and/or fit the gate on their dev split."""
    from assistant.answering import gate as gates

    settings = _settings(args)
    path = settings.resolved(settings.gate_file)
    data = path.parent / "signals.jsonl"

    def progress(i, n):
        print(f"\r{i}/{n}", end="", file=sys.stderr, flush=True)

    if args.collect:
        from assistant.evaluation.gate_data import collect
        from assistant.index.embeddings import make_embedder
        from assistant.llm.base import make_chat_model

        corpus = Path(args.corpus) if args.corpus else None
        if corpus is not None and not (corpus / "cases.jsonl").exists():
            raise ConfigError(f"{corpus} has no cases.jsonl (expected the layout of ../shared/generalization/squad2-dev)")
        model = make_chat_model(settings) if settings.llm_backend != "extractive" else None

        rows = collect(settings, make_embedder(settings), [Path(d) for d in args.dataset], corpus, args.per_article,
                       args.llm_sample, model, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        gates.write_rows(data, rows)
        print(f"\n{len(rows)} labelled rows written to {data}")
    if args.add:
        from assistant.evaluation.gate_data import add
        from assistant.index.embeddings import make_embedder
        from assistant.llm.base import make_chat_model

        corpus = Path(args.corpus) if args.corpus else None
        model = make_chat_model(settings) if settings.llm_backend != "extractive" else None
        done = {(r.get("source"), r["id"], r["kind"]) for r in gates.read_rows(data)} if data.exists() else set()

        def sink(row):
            with data.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

        rows = add(settings, make_embedder(settings), set(args.add), [Path(d) for d in args.dataset], corpus, args.per_article,
                   args.llm_sample, model, done, sink, progress, args.chat_only)
        print(f"\n{len(rows)} labelled rows added to {data}")
    if args.refresh:
        from assistant.evaluation.gate_data import refresh
        from assistant.index.embeddings import make_embedder
        from assistant.llm.base import make_chat_model

        # with --backend, the chat model's confirmation of quoted points is measured again too
        model = make_chat_model(settings) if args.backend and settings.llm_backend != "extractive" else None
        rows, missed = refresh(settings, make_embedder(settings), gates.read_rows(data), [Path(d) for d in args.dataset],
                               Path(args.corpus) if args.corpus else None, progress, model)
        gates.write_rows(data, rows)
        print(f"\nretrieval signals measured again on {len(rows) - missed} of {len(rows)} rows in {data}"
              + (f" ({missed} not found in the datasets given: kept as they were)" if missed else ""))
    models = None
    if args.fit or args.collect or args.add or args.refresh:
        rows = gates.read_rows(data)
        models = gates.fit(rows, settings.refusal_budget, wrong_answer_cost=settings.wrong_answer_cost)
        gates.save(models, path, {"data": data.name, "budget": settings.refusal_budget, "wrong_answer_cost": settings.wrong_answer_cost, "rows": len(rows),
                                  "fitted": time.strftime("%Y-%m-%d %H:%M:%S")})
        print(f"gate fitted on the dev rows of {data.name} (false-refusal budget {settings.refusal_budget:.0%}); "
              f"parameters in {path}")
    rows = gates.read_rows(data)
    print(gates.ablation_table(gates.ablation(rows, settings.refusal_budget, settings.wrong_answer_cost, models)))
    return 0


def cmd_forms(args) -> int:
    """Fit the question-form regression on the dev split of evals/forms/questions.jsonl and print how far it and the
    rules alone agree with the labels: on dev, each set read by a fit on the others; on test, by the fit."""
    from assistant.answering import question_form as forms
    from assistant.index.embeddings import make_embedder
    from assistant.language import is_open

    embedder = make_embedder(_settings(args))
    rows = forms.read_questions()
    dev, test = [r for r in rows if r["split"] == "dev"], [r for r in rows if r["split"] == "test"]
    params = forms.fit(embedder, dev)
    forms.FITTED.write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    print(f"question form fitted on the {len(dev)} dev questions; parameters in {forms.FITTED}")
    fitted = forms.QuestionForm(embedder, params=params)
    for split, part, read in (("dev (each set held out)", dev, forms.held_out_by_set(embedder, dev)),
                              ("test", test, [fitted.is_open(r["question"]) for r in test])):
        truth = [bool(r["open"]) for r in part]
        for by, reading in (("the rules alone", [is_open(r["question"]) for r in part]), ("the fitted reading", read)):
            a = forms.agreement(truth, reading)
            print(f"{split}, {by}: open recognised {a['recognised']}/{a['open']}, others read as open "
                  f"{a['read_as_open']}/{a['others']}, accuracy {a['accuracy']:.3f}")
    return 0


def cmd_grader(args) -> int:
    """Collect the chat model's readings of the hand-graded practice answers (slow), fit the grader's calibration
    on their dev split, and print its agreement with the hand grades beside the key points' alone."""
    from assistant.evaluation import practice_agreement as agreement
    from assistant.practice import grader as graders

    settings = _settings(args)
    cases = agreement.read_cases(agreement.GRADED)
    if args.collect:
        from assistant.llm.base import make_chat_model

        model = make_chat_model(settings)
        if model is None:
            raise ConfigError("cimic grader --collect needs a chat model: --backend local or openai")

        def progress(i, n):
            print(f"\r{i}/{n}", end="", file=sys.stderr, flush=True)

        earlier = [] if args.again or not agreement.READINGS.exists() else agreement.read_cases(agreement.READINGS)
        readings = agreement.collect_readings(model, cases, earlier, progress)
        agreement.READINGS.write_text("".join(json.dumps(r) + "\n" for r in readings), encoding="utf-8")
        print(f"\n{len(readings)} readings by {model.name} written to {agreement.READINGS}")
    if not agreement.READINGS.exists():
        raise ConfigError(f"no readings at {agreement.READINGS}: run `cimic grader --collect --backend local` first")
    rows = agreement.graded_rows(cases, agreement.read_cases(agreement.READINGS))
    dev = [r for r in rows if r["split"] == "dev"]
    calibration = graders.fit(dev)
    graders.save(calibration, graders.FITTED, {"data": f"{agreement.GRADED.name}, {agreement.READINGS.name}", "rows": len(dev),
                                              "fitted": time.strftime("%Y-%m-%d %H:%M:%S")})
    print(f"grader calibration fitted on the {len(dev)} dev hand grades; parameters in {graders.FITTED}")
    for split, by in agreement.with_model(rows, calibration).items():
        w, f = by["key points alone"], by["with the model's reading"]
        print(f"{split}{' (held out)' if split == 'dev' else ''}: {f['cases']} answers; kappa {w['kappa']:.3f} by the key points "
              f"alone -> {f['kappa']:.3f} with the model's reading; wrong answers graded correct "
              f"{len(w['wrong_graded_correct'])} -> {len(f['wrong_graded_correct'])}")
    return 0


def cmd_feedback(args) -> int:
    from assistant.userdata.feedback import FeedbackStore

    store = FeedbackStore.from_settings(_settings(args))
    if args.action == "export":
        if not args.csv:
            raise ConfigError("cimic feedback export needs --csv FILE")
        n = store.export_csv(Path(args.csv))
        print(f"{n} feedback entries written to {args.csv}")
    else:
        for r in store.list(args.rating, args.limit):
            print(f"#{r['id']} {r['created_at']} {r['rating']:4s} {r['user'] or '-'}: {r['question'][:70]!r}"
                  + (f" — {r['comment'][:60]!r}" if r["comment"] else ""))
    pending = store.pending()
    if pending:
        print(f"{pending} entries wait in the spool file for the database", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimic", description="CIMIC doctrine assistant: cited answers from doctrine sources.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index knowledge/ into the vector store (only what changed is embedded)")
    p.add_argument("--rebuild", action="store_true", help="embed everything again into a fresh index")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer a question with cited sources")
    p.add_argument("question", nargs="?", help="the question")
    p.add_argument("--json", action="store_true", help="print the Answer object as JSON")
    p.add_argument("--batch", metavar="FILE.jsonl", help="answer one case per line ({id, question, history}); prints JSON lines")
    p.add_argument("--history", metavar="JSON", help='earlier turns as JSON: [["question", "answer"], ...]')
    p.add_argument("--backend", choices=["local", "openai", "extractive"], help="override CIMIC_LLM_BACKEND")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the chat page and the REST API on one port")
    p.add_argument("--host", help="default CIMIC_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default CIMIC_PORT or 7860")
    p.add_argument("--backend", choices=["local", "openai", "extractive"], help="override CIMIC_LLM_BACKEND")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="run a gold dataset and write report.json and report.html; exit 1 when a gate is missed")
    p.add_argument("--dataset", action="extend", nargs="+", metavar="FILE",
                   help="JSONL cases (the gold dataset format in the README), one or several (default evals/datasets/gold.jsonl)")
    p.add_argument("--knowledge", metavar="DIR", help="answer from the documents in DIR (indexed beside the index, var/eval-index/); "
                   "default: a docs/ folder beside the dataset file, else the configured index")
    p.add_argument("--backend", choices=["local", "openai", "extractive"], help="override CIMIC_LLM_BACKEND")
    p.add_argument("--out", metavar="DIR", help="where to write the report (default CIMIC_EVAL_REPORTS_DIR/<time>, evals/reports/)")
    p.add_argument("--compare", metavar="OLD.json", help="an earlier report.json to show the change since")
    p.add_argument("--gates", metavar="FILE", default="evals/gates.yaml", help="thresholds per back-end ('' for none)")
    p.add_argument("--sample", type=int, metavar="N", help="run a deterministic subset of N cases, every kind included while N allows")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("gate", help="collect the answer gate's labelled signals and fit it; prints what each signal adds")
    p.add_argument("--collect", action="store_true", help="run the assistant with the gate open over the cases (slow), then fit")
    p.add_argument("--fit", action="store_true", help="fit on the dev rows of the signals beside the gate file")
    p.add_argument("--add", nargs="+", choices=["gold", "corpus", "lodo", "oos"], metavar="PART",
                   help="add rows (resumable), then fit: gold (--dataset's doctrine cases not collected yet), corpus "
                        "(--corpus's cases not collected yet: every one for the "
                        "extractive drafter, the per-article sample for a chat model), lodo (each document left out of the "
                        "index, the cases it alone answers asked without it; with --corpus, its articles too), oos "
                        "(evals/datasets/out_of_scope.jsonl)")
    p.add_argument("--chat-only", action="store_true",
                   help="add: the chat model's rows alone (--backend local or openai), the extractive drafter's left as they are")
    p.add_argument("--refresh", action="store_true",
                   help="measure the rows' retrieval signals again (nothing drafted; after a retrieval signal changes), then "
                        "fit; with --backend, the chat model's confirmation of quoted points too")
    p.add_argument("--dataset", nargs="+", default=["evals/datasets/gold.jsonl", "evals/datasets/reworded.jsonl"],
                   help="collect: doctrine cases (their split field), one or several files")
    p.add_argument("--corpus", metavar="DIR", help="collect: a generalization corpus (docs/ and cases.jsonl)")
    p.add_argument("--per-article", type=int, default=80,
                   help="the chat model's corpus sample: cases per article (half unanswerable); the extractive drafter reads every case")
    p.add_argument("--llm-sample", type=int, default=1280,
                   help="collect: corpus cases drafted by the chat model (1280: every sampled one of 16 articles)")
    p.add_argument("--backend", choices=["local", "openai", "extractive"], help="collect: the chat back-end (extractive: none)")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("grader", help="fit the practice grader's calibration on the hand grades; prints its agreement with them")
    p.add_argument("--collect", action="store_true",
                   help="read the hand-graded answers the chat model has not read yet first (slow: about a second each)")
    p.add_argument("--again", action="store_true", help="with --collect: read every answer again (after a prompt change)")
    p.add_argument("--backend", choices=["local", "openai"], help="collect: the chat back-end")
    p.set_defaults(func=cmd_grader)

    p = sub.add_parser("forms", help="fit the reading of open questions on evals/forms/questions.jsonl; prints its agreement")
    p.set_defaults(func=cmd_forms)

    p = sub.add_parser("feedback", help="list or export the thumbs and comments trainees gave")
    p.add_argument("action", choices=["list", "export"])
    p.add_argument("--csv", metavar="FILE", help="export: the CSV file to write")
    p.add_argument("--rating", choices=["up", "down"], help="list: only these")
    p.add_argument("--limit", type=int, default=50, help="list: at most this many, newest first")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("model", help="join the packaged local model once, check its SHA-256, and export the int8 ONNX embedder; print their paths")
    p.set_defaults(func=cmd_model)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"cimic {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cimic {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
