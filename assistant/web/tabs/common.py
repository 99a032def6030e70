"""What the page's tabs share: `Page`, the services a tab reads (the chat service, feedback, evaluations,
documents, the tutor), who is asking (`user_of`, `owner`, `instructor`), `shown` (an `AssistantError` becomes
the page's error message, `gr.Error`), `guarded` (a handler run for instructors only) and `open_tab` (a tab's
timer started for instructors)."""

import inspect
from contextlib import contextmanager
from dataclasses import dataclass, field

import gradio as gr

from assistant.errors import AssistantError
from assistant.web.services import Services


@contextmanager
def shown():
    """Errors meant for the user are shown on the page with their own message."""
    try:
        yield
    except AssistantError as exc:
        raise gr.Error(exc.message)


@dataclass
class Page(Services):
    """The services, and what this page shows: the embed view or the whole page."""

    embed: bool = False
    instructor_tabs: list = field(default_factory=list)  # shown on load to instructors only

    @property
    def has_list(self) -> bool:
        """The side list of the user's conversations (not in the embed view)."""
        return self.chat.conversations is not None and not self.embed

    def user_of(self, request):
        return self.auth.identify(request.headers) if request is not None else None

    def owner(self, request, client) -> str | None:
        user = self.user_of(request)
        return self.chat.owner(user.name if user else "", client)

    def instructor(self, request) -> bool:
        user = self.user_of(request)
        return bool(user and user.instructor)

    def guarded(self, what: str, fn):
        """`fn(*inputs, user=...)` run for an instructor only; a refusal or bad input is shown with its reason.
        Gradio reads the handler's signature to pass the request: it is fn's inputs and then `request`."""
        auth = self.auth

        def run(*args):
            *inputs, request = args
            with shown():
                user = auth.require(request.headers if request is not None else {}, instructor=True, what=what)
                return fn(*inputs, user=user)

        params = [p for name, p in inspect.signature(fn).parameters.items() if name != "user"]
        run.__signature__ = inspect.Signature(params + [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                                          annotation=gr.Request)])
        run.__annotations__ = {"request": gr.Request}  # Gradio reads the type hints, not only the signature
        return run


def open_tab(page: Page):
    """The handler for a tab's select: its timer runs for instructors who opened it only."""
    def opened(request: gr.Request):
        return gr.Timer(active=page.instructor(request))
    return opened
