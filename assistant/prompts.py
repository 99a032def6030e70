"""Prompt templates from prompts/*.yaml, rendered with Jinja2 and strict undefined variables.

A missing variable is an error, never an empty string. Leaves out: per-model prompt variants.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from assistant.config import ROOT
from assistant.errors import ConfigError

PROMPTS_DIR = ROOT / "prompts"


@lru_cache(maxsize=None)
def _load(name: str) -> dict:
    path = PROMPTS_DIR / f"{name}.yaml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"prompt file {path} cannot be read ({exc.__class__.__name__})") from exc


def _env():
    from jinja2 import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=False)


def render(name: str, part: str, **variables) -> str:
    template = _load(name).get(part)
    if template is None:
        raise ConfigError(f"prompt {name}.yaml has no '{part}' part")
    from jinja2 import UndefinedError

    try:
        return _env().from_string(template).render(**variables).strip()
    except UndefinedError as exc:
        raise ConfigError(f"prompt {name}.yaml/{part}: {exc}") from exc


def messages(name: str, **variables) -> list[dict]:
    return [{"role": "system", "content": render(name, "system", **variables)},
            {"role": "user", "content": render(name, "user", **variables)}]


def prompt_names() -> list[str]:
    return sorted(p.stem for p in Path(PROMPTS_DIR).glob("*.yaml"))
