"""What the page's tabs share: `Page`, the services a tab reads (the chat service, feedback, evaluations,
documents, the tutor), who is asking (`user_of`, `owner`, `instructor`), `shown` (an `AssistantError` becomes
the page's error message, `gr.Error`), `guarded` (a handler run for instructors only), `download` (a file the
page offers) and `open_tab` (a tab's timer started for instructors)."""

import inspect
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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


DOWNLOADS_KEPT_S = 3600


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

    @property
    def downloads(self) -> Path:
        """Where the files the page offers are written: `downloads/` in the data folder."""
        return (self.settings.data_dir if self.settings else Path(tempfile.gettempdir()) / "cimic") / "downloads"

    def download(self, name: str, text: str) -> str:
        """`text` written as the file `name` for the page to offer, in a subfolder of its own (two users downloading
        at once never share a file). Gradio copies it into its cache when it is shown, so what is older than
        `DOWNLOADS_KEPT_S` is removed here: the folder does not grow with every click, nor with every server start
        (a server stopped by a signal runs no clean-up)."""
        folder = self.downloads
        folder.mkdir(parents=True, exist_ok=True)
        stale = time.time() - DOWNLOADS_KEPT_S
        for old in folder.iterdir():
            if old.stat().st_mtime < stale:
                shutil.rmtree(old, ignore_errors=True)
        path = Path(tempfile.mkdtemp(dir=folder)) / name
        path.write_text(text, encoding="utf-8")
        return str(path)

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
