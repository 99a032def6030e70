"""Errors that are safe to show a user.

Every error a trainee, instructor or administrator may see derives from `AssistantError` and
carries a message that says what was wrong and what to do. Only the edges (UI, API, CLI) turn
these into messages or status codes; nothing here formats tracebacks.
"""


class AssistantError(Exception):
    """Base class: `str(err)` is the user-facing message. `status` is the HTTP code the API uses."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidQuestion(AssistantError):
    """The question is empty, too long or not text."""

    status = 422


class DocumentError(AssistantError):
    """A knowledge file could not be read; the indexer reports it and skips the file."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ConfigError(AssistantError):
    """A setting or a bundled file (manifest, glossary, prompt) is wrong."""

    status = 500


class ModelError(AssistantError):
    """A packaged model is missing or damaged."""

    status = 503


class StoreUnavailable(AssistantError):
    """The vector store cannot be reached or holds no index yet."""

    status = 503


class BackendUnavailable(AssistantError):
    """The chat-model back-end cannot be reached."""

    status = 503


class IndexBusy(AssistantError):
    """Another ingest holds the index lock."""

    status = 409


class InvalidFeedback(AssistantError):
    """A thumbs entry without its rating, question or answer, or with an over-long comment."""

    status = 422


class NotAuthenticated(AssistantError):
    """A request without valid credentials where CIMIC_AUTH or CIMIC_AUTH_HEADER asks for them."""

    status = 401


class NotAllowed(AssistantError):
    """A signed-in user who lacks the role a page or endpoint needs (the review tab: an instructor)."""

    status = 403


class DatasetError(AssistantError):
    """An evaluation dataset, label file or earlier report that cannot be read as documented."""

    status = 422


class EvalBusy(AssistantError):
    """An evaluation is running already: one at a time."""

    status = 409


class NotFound(AssistantError):
    """An evaluation run (or another named record) that does not exist."""

    status = 404


class InvalidUpload(AssistantError):
    """A document sent from the page or the API that cannot be taken: its name, type, size or content.
    The status says which (400 name, 409 already present, 413 too large, 415 type, 422 content)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class InvalidText(AssistantError):
    """A text field holding what is not text that can be stored: an unpaired surrogate or a NUL byte.
    `field` names it."""

    status = 422

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class TooManyAttempts(AssistantError):
    """Too many failed logins for a user name or from a client address: wait `retry_after` seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class HostNotAllowed(AssistantError):
    """A request whose Host header is not one of the names this server answers to (CIMIC_ALLOWED_HOSTS)."""

    status = 400


class LimitExceeded(DocumentError):
    """A knowledge file over one of the limits on what it unpacks to (in all, per part, the compression ratio),
    its pages or its characters, found before it is parsed (or as its text is read). `limit` names the setting."""

    status = 413

    def __init__(self, path: str, reason: str, limit: str):
        super().__init__(path, reason)
        self.limit = limit


class UploadLimit(InvalidUpload):
    """An upload refused for one of those limits, or for taking longer to read than CIMIC_PARSE_TIMEOUT_S
    (413); `limit` names the setting."""

    def __init__(self, message: str, limit: str):
        super().__init__(message, 413)
        self.limit = limit
