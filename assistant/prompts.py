"""Prompt templates from the package's `templates/prompts/*.yaml`, rendered with Jinja2 and strict
undefined variables.

Read with importlib.resources, so an installed package finds them wherever it runs. A missing variable
is an error, never an empty string. Leaves out: per-model prompt variants.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import yaml

from assistant.errors import ConfigError


def _dir():
    return files("assistant") / "templates" / "prompts"


@lru_cache(maxsize=None)
def _load(name: str) -> dict:
    path = _dir() / f"{name}.yaml"
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
    return sorted(p.name[: -len(".yaml")] for p in _dir().iterdir() if p.name.endswith(".yaml"))
