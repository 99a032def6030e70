"""Who is asking: optional login for the page, the API and the review tab.

- `CIMIC_AUTH="alice:secret,bob:other"`: HTTP Basic logins (the browser asks once; API clients send
  `Authorization: Basic ...`). Passwords are compared in constant time.
- `CIMIC_AUTH_HEADER="X-Forwarded-User"`: trust the user name a reverse proxy (SSO) puts in that header.
  Only for a server that the proxy alone can reach: anybody who can reach it directly can set the header.
- `CIMIC_INSTRUCTORS="bob"`: the users who may open the review tab and list feedback.
With neither login set, everybody is an anonymous trainee and the review tab stays closed.
Leaves out: user management, sessions, password hashing at rest (the secrets live in the environment).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from assistant.errors import ConfigError, NotAllowed, NotAuthenticated


@dataclass(frozen=True)
class User:
    name: str
    instructor: bool = False


ANONYMOUS = User("")


class Auth:
    def __init__(self, pairs: str | None = None, header: str | None = None, instructors: str = ""):
        self.logins: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in (pairs or "").split(","))):
            name, sep, password = item.partition(":")
            if not sep or not name or not password:
                raise ConfigError(f"CIMIC_AUTH must be user:password pairs separated by commas; {item.split(':')[0]!r} has no password")
            self.logins[name] = password
        self.header = (header or "").strip() or None
        self.instructors = {n.strip() for n in instructors.split(",") if n.strip()}

    @classmethod
    def from_settings(cls, settings) -> "Auth":
        return cls(settings.auth, settings.auth_header, settings.instructors)

    @property
    def enabled(self) -> bool:
        return bool(self.logins or self.header)

    def identify(self, headers) -> User | None:
        """The user these request headers name, ANONYMOUS when no login is configured, None when a
        login is configured and the headers do not pass it."""
        if not self.enabled:
            return ANONYMOUS
        if self.header and (name := (headers.get(self.header) or "").strip()):
            return User(name, name in self.instructors)
        value = headers.get("authorization") or ""
        if self.logins and value[:6].lower() == "basic ":
            try:
                name, _, password = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            expected = self.logins.get(name)
            if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
                return User(name, name in self.instructors)
        return None

    def require(self, headers, instructor: bool = False, what: str = "the review") -> User:
        return self.allow(self.identify(headers), instructor, what)

    def allow(self, user: User | None, instructor: bool = False, what: str = "the review") -> User:
        """The user, if signed in and (when asked) an instructor; otherwise the error that says why not."""
        if user is None:
            raise NotAuthenticated("sign in first: this assistant needs a login")
        if instructor and not user.instructor:
            raise NotAllowed(f"{what} needs an instructor login" if self.enabled else
                             f"{what} needs an instructor login; set CIMIC_AUTH and CIMIC_INSTRUCTORS to enable it")
        return user
