"""A thin entry at the repository root: the server lives in the package (`assistant.web.server`).

`python app.py` serves with the settings from the environment, as `cimic serve` does; an ASGI host can
use the factory: `uvicorn app:create_app --factory`."""

from assistant.web.server import create_app, serve  # noqa: F401

if __name__ == "__main__":
    from assistant.config import Settings

    serve(Settings())
