"""What the routers share: the services they reach (`Services`, kept on `app.state.services` by
`build_api`), the signed-in user the guard identified, the owner of what a request reads and writes, the
instructor check, and the one text check (`userdata.fields`) on every request: `Checked`, the base of every
request body, and `checked_params`, every router's dependency for its path and query parameters. Leaves
out: the routes themselves."""

from __future__ import annotations


from fastapi import Request
from pydantic import BaseModel, model_validator

from assistant.userdata.fields import check_fields
from assistant.web.services import Services

CLIENT_HEADER = "x-cimic-client"


class Checked(BaseModel):
    """A request body whose every text (nested ones too) is checked as it is read, before any field rule:
    an unpaired surrogate or a NUL byte is refused with InvalidText (422) naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data):
        if isinstance(data, dict):
            check_fields(data)
        return data


def checked_params(request: Request) -> None:
    """Every router's dependency: the path and query parameters pass the same check."""
    check_fields(request.path_params)
    check_fields(request.query_params)


def services(request: Request) -> Services:
    return request.app.state.services


def user_name(request: Request) -> str:
    return request.state.user.name


def instructor(request: Request, what: str = "an evaluation"):
    """The signed-in user if an instructor (the guard identified the user already); NotAllowed otherwise."""
    return services(request).auth.allow(request.state.user, instructor=True, what=what)


def owner(request: Request, needed: bool = True) -> str | None:
    """Whose conversations and practice this request reads and writes: the login name or the client's id."""
    return services(request).chat.owner(request.state.user.name, request.headers.get(CLIENT_HEADER), needed)
