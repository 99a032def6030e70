"""The one check of every text a user sends that reaches a store or the pipeline (questions, answers,
comments, titles, practice answers, document metadata, ids): `check_text(field, value)`.

Refused, naming the field, before anything is written: an unpaired surrogate (JSON's "\\ud800" decodes in
Python to a str that is not Unicode text: it cannot be encoded, stored or sent back) and a NUL byte
(PostgreSQL's text cannot hold one; SQLite's can, and the two must answer alike). Lists, tuples and dicts
are walked, their parts named (`history[0][1]`, `citations[2].title`); `check_fields` checks a mapping's
values by their keys. Everything else (empty, too long,
control characters the pipeline cleans) is the caller's own rule. Leaves out: HTTP (the web edge turns
the error into a 422) and any repair of the text.
"""

from __future__ import annotations

from assistant.errors import InvalidText


def problem(text: str) -> str | None:
    """What makes `text` unstorable, in words, or None."""
    nul = text.find("\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        if nul < 0 or exc.start < nul:
            return (f"a character that is not valid text (an unpaired surrogate, {text[exc.start]!r}, at position "
                    f"{exc.start})")
    if nul >= 0:
        return f"a NUL byte (\\x00) at position {nul}, which cannot be stored"
    return None


def check_text(field: str, value, error: type = InvalidText) -> None:
    """Raise `error` (InvalidText by default; any AssistantError class taking the message) naming the field
    when `value`, or any text inside it, is not storable text."""
    for name, text in _texts(field, value):
        found = problem(text)
        if found:
            message = f"the {name} holds {found}; remove it and send again"
            raise error(message, name) if error is InvalidText else error(message)


def check_fields(values: dict, error: type = InvalidText) -> None:
    """`check_text` on each value of a mapping (a request's body, its form, path or query parameters), each
    named by its key."""
    check_text("", dict(values), error)


def _texts(name: str, value):
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            part = key if problem(key) is None else repr(key)  # a bad key is named escaped
            part = f"{name}.{part}" if name else part
            yield from _texts(f"key {part}", key)
            yield from _texts(part, item)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _texts(f"{name}[{i}]", item)
