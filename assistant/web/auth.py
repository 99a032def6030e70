"""Who is asking: optional login for the page, the API and the review tab.

- `CIMIC_AUTH="alice:secret,bob:other"`: HTTP Basic logins (the browser asks once; API clients send
  `Authorization: Basic ...`). Passwords are compared in constant time.
- `CIMIC_AUTH_HEADER="X-Forwarded-User"`: trust the user name a reverse proxy (SSO) puts in that header.
  Only for a server that the proxy alone can reach: anybody who can reach it directly can set the header.
- `CIMIC_INSTRUCTORS="bob"`: the users who may open the review tab and list feedback.
With neither login set, everybody is an anonymous trainee and the review tab stays closed.
Basic logins are throttled (`LoginThrottle`): after a few failures for a user name, or from a client
address, every attempt for that name or from that address is answered 429 with `Retry-After` for a
back-off that doubles with each further failure, before the password is even compared.
Leaves out: user management, sessions, password hashing at rest (the secrets live in the environment).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from assistant.errors import ConfigError, NotAllowed, NotAuthenticated, TooManyAttempts


@dataclass(frozen=True)
class User:
    name: str
    instructor: bool = False


ANONYMOUS = User("")


class LoginThrottle:
    """Exponential back-off on failed Basic logins, kept per user name and per client address.

    Each key (`user:<name>`, `addr:<address>`) counts its failures; once it has `free` of them (5 for a user,
    20 for an address, which several people may share), each further failure closes it for `base_s` seconds,
    doubled at every failure up to `max_s` (1 s, 2 s, 4 s ... 15 min). While a key is closed, every attempt
    it names is refused (TooManyAttempts, 429 with Retry-After), right or wrong, so that guessing goes no
    faster than the back-off. A success clears its user name's count, not its address's (one valid account
    must not let its holder try other names' passwords faster); a key without a failure for `forget_s`
    starts afresh. At most `max_keys` keys are kept (the oldest go first). `clock` is injectable (tests)."""

    def __init__(self, free_per_user: int = 5, free_per_address: int = 20, base_s: float = 1.0, max_s: float = 900.0,
                 forget_s: float = 900.0, max_keys: int = 10_000, clock=time.monotonic):
        self.free = {"user": free_per_user, "addr": free_per_address}
        self.base_s, self.max_s, self.forget_s, self.max_keys = base_s, max_s, forget_s, max_keys
        self.clock = clock
        self._keys: OrderedDict[str, tuple[int, float, float]] = OrderedDict()  # key -> (failures, last, closed until)
        self._lock = threading.Lock()

    @staticmethod
    def _names(user: str | None, address: str | None) -> list[str]:
        return ([f"user:{user}"] if user else []) + ([f"addr:{address}"] if address else [])

    def check(self, user: str | None, address: str | None) -> None:
        """TooManyAttempts when the user name or the address is in its back-off."""
        now = self.clock()
        with self._lock:
            waits = [(until - now, key) for key in self._names(user, address)
                     if (found := self._keys.get(key)) and (until := found[2]) > now]
        if waits:
            wait, key = max(waits)
            who = "this user name" if key.startswith("user:") else "this address"
            raise TooManyAttempts(f"too many failed logins for {who}: try again in {math.ceil(wait)} s",
                                  max(1, math.ceil(wait)))

    def failed(self, user: str | None, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key in self._names(user, address):
                failures, last, _ = self._keys.pop(key, (0, now, 0.0))
                if now - last > self.forget_s:
                    failures = 0
                failures += 1
                over = failures - self.free[key.split(":", 1)[0]]
                until = now + min(self.max_s, self.base_s * 2 ** (over - 1)) if over > 0 else 0.0
                self._keys[key] = (failures, now, until)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    def succeeded(self, user: str | None, address: str | None = None) -> None:
        """A right password: its user name starts afresh (its address keeps its count until forgotten)."""
        with self._lock:
            for key in self._names(user, None):
                self._keys.pop(key, None)


class Auth:
    def __init__(self, pairs: str | None = None, header: str | None = None, instructors: str = "",
                 throttle: LoginThrottle | None = None):
        self.logins: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in (pairs or "").split(","))):
            name, sep, password = item.partition(":")
            if not sep or not name or not password:
                raise ConfigError(f"CIMIC_AUTH must be user:password pairs separated by commas; {item.split(':')[0]!r} has no password")
            self.logins[name] = password
        self.header = (header or "").strip() or None
        self.instructors = {n.strip() for n in instructors.split(",") if n.strip()}
        self.throttle = throttle or LoginThrottle()

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
        tried = self._basic(headers)
        if tried is not None:
            name, password = tried
            expected = self.logins.get(name)
            if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
                return User(name, name in self.instructors)
        return None

    def _basic(self, headers) -> tuple[str, str] | None:
        """The (name, password) of a Basic Authorization header when logins are configured; ("", "") for one
        that cannot be read; None without one."""
        value = headers.get("authorization") or ""
        if not self.logins or value[:6].lower() != "basic ":
            return None
        try:
            name, _, password = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return name, password

    def sign_in(self, headers, address: str | None = None) -> User:
        """`require`, throttled: a Basic login for a user name or from an address in its back-off is refused
        (TooManyAttempts) before its password is compared; a wrong one counts towards the back-off, a right
        one clears its user name's count. Requests without credentials, and proxy-header logins, are not counted."""
        tried = self._basic(headers)
        name = tried[0] if tried is not None else None
        if tried is not None:
            self.throttle.check(name, address)
        user = self.identify(headers)
        if tried is not None and not (self.header and (headers.get(self.header) or "").strip()):
            if user is None:
                self.throttle.failed(name, address)
            else:
                self.throttle.succeeded(name, address)
        return self.allow(user)

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
