"""Who may use the Editor: the password check, and a throttle on wrong guesses shared by the whole server.

The password itself is never kept: the gate holds its SHA-256 digest and compares digests in
constant time (`hmac.compare_digest`). After `free_attempts` wrong passwords in a row, every
further attempt has to wait: first `first_delay` seconds, doubling with each wrong password up to
`max_delay`. While a wait runs, every attempt is refused *without being checked*, even the right
password, so guessing faster gains nothing. The right password after the wait clears the count,
and so does a quiet spell of `forget_after` seconds with no wrong password.

One gate serves every browser session of the server (a new session does not start a new count)
and is safe to use from Streamlit's session threads. It never sleeps: it says how long to wait.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from kb.errors import ConfigError

log = logging.getLogger(__name__)

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def default_clock() -> float:
    """The gates' default clock: monotonic seconds. Looked up at every check, so a test can replace it."""
    return time.monotonic()


def password_digest(password: str) -> str:
    """The SHA-256 hex digest of a password (UTF-8)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def configured_digest(secret_password: object | None, settings_digest: str | None) -> str | None:
    """The digest the Editor password is checked against, or None when no password is set.

    `secret_password` is Streamlit's secret `editor_password` (it wins when set); `settings_digest`
    is `Settings.editor_password_hash`, from KB_EDITOR_PASSWORD_SHA256 or KB_EDITOR_PASSWORD.
    """
    if secret_password is not None and secret_password != "":
        if not isinstance(secret_password, str):
            kind = {"bool": "true or false", "int": "a number", "float": "a number"}.get(type(secret_password).__name__, f"a {type(secret_password).__name__}")
            raise ConfigError(
                f'the secret editor_password is {kind}, not text, so it is not used as a password; write it in quotes in .streamlit/secrets.toml: editor_password = "..."'
            )
        return password_digest(secret_password)
    if not settings_digest:
        return None
    digest = settings_digest.strip().lower()
    if not SHA256_HEX.fullmatch(digest):
        what = f"{len(digest)} characters long" if len(digest) != 64 else "not all hexadecimal digits"
        raise ConfigError(
            f"KB_EDITOR_PASSWORD_SHA256 is not a SHA-256 digest: it is {what}, so no password could ever match it. "
            "It must be 64 hexadecimal characters (0-9, a-f), for example the output of `printf %s 'the password' | sha256sum`; "
            "or set KB_EDITOR_PASSWORD to the password itself instead"
        )
    return digest


class Outcome(Enum):
    GRANTED = "granted"  # the right password, checked
    WRONG = "wrong"  # a wrong password, checked and counted
    REFUSED = "refused"  # not checked at all: a wait after wrong passwords is still running


@dataclass(frozen=True)
class Attempt:
    """What one password attempt came to, and how long the next one must wait (whole seconds, 0 for none)."""

    outcome: Outcome
    wait_seconds: int = 0

    @property
    def granted(self) -> bool:
        return self.outcome is Outcome.GRANTED

    @property
    def message(self) -> str:
        if self.outcome is Outcome.GRANTED:
            return "The Editor is unlocked."
        if self.outcome is Outcome.REFUSED:
            return f"Too many wrong passwords have been tried, so this one was not checked. Wait {seconds(self.wait_seconds)}, then try again."
        if self.wait_seconds:
            return f"That password is not right, and too many wrong passwords have been tried: wait {seconds(self.wait_seconds)} before the next try."
        return "That password is not right. Check it with whoever set up the Editor, then try again."


def seconds(n: int) -> str:
    return "1 second" if n == 1 else f"{n} seconds"


class PasswordGate:
    """Checks the Editor password against its digest, and makes repeated wrong guesses wait."""

    def __init__(
        self,
        expected_digest: str,
        *,
        free_attempts: int = 3,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        forget_after: float = 900.0,
        clock: Callable[[], float] | None = None,
    ):
        if not isinstance(expected_digest, str) or not SHA256_HEX.fullmatch(expected_digest):
            got = f"{len(expected_digest)} characters" if isinstance(expected_digest, str) else f"a {type(expected_digest).__name__}"
            raise ConfigError(
                f"PasswordGate: expected_digest must be a SHA-256 hex digest, 64 lower-case hexadecimal characters (got {got}); make it with password_digest(password)"
            )
        if not isinstance(free_attempts, int) or free_attempts < 1:
            raise ConfigError(f"PasswordGate: free_attempts is {free_attempts!r}; it must be a whole number of at least 1")
        if not first_delay > 0:
            raise ConfigError(f"PasswordGate: first_delay is {first_delay!r}; it must be more than 0 seconds")
        if not max_delay >= first_delay:
            raise ConfigError(f"PasswordGate: max_delay is {max_delay!r}; it must be at least first_delay ({first_delay!r} seconds)")
        if not forget_after >= max_delay:
            raise ConfigError(f"PasswordGate: forget_after is {forget_after!r}; it must be at least max_delay ({max_delay!r} seconds)")
        self._expected = bytes.fromhex(expected_digest)
        self.free_attempts = free_attempts
        self.first_delay = float(first_delay)
        self.max_delay = float(max_delay)
        self.forget_after = float(forget_after)
        self._clock = clock  # None: default_clock, looked up at each check
        self._lock = threading.Lock()
        self._failures = 0  # wrong passwords in a row
        self._last_failure = 0.0
        self._blocked_until = 0.0
        self.unlock_token = secrets.token_urlsafe(16)  # what a session keeps once unlocked; a new gate (new password) has a new one

    def attempt(self, password: str) -> Attempt:
        """Check one password, unless a wait is running; count it if it is wrong."""
        given = hashlib.sha256(password.encode("utf-8")).digest()
        with self._lock:
            now = self._now()
            if now < self._blocked_until:
                wait = self._wait(now)
                log.info("Editor password attempt refused unchecked: %s of waiting left", seconds(wait))
                return Attempt(Outcome.REFUSED, wait)
            if self._failures and now - self._last_failure >= self.forget_after:
                self._failures = 0
            if hmac.compare_digest(given, self._expected):
                self._failures = 0
                self._blocked_until = 0.0
                log.info("Editor unlocked")
                return Attempt(Outcome.GRANTED)
            self._failures += 1
            self._last_failure = now
            if self._failures >= self.free_attempts:
                self._blocked_until = now + self.delay(self._failures)
            wait = self._wait(now)
            log.warning("Wrong Editor password (%d in a row); the next attempt waits %s", self._failures, seconds(wait))
            return Attempt(Outcome.WRONG, wait)

    def wait_seconds(self) -> int:
        """Whole seconds until the next attempt will be checked; 0 when it would be checked now."""
        with self._lock:
            return self._wait(self._now())

    def delay(self, failures: int) -> float:
        """The wait after `failures` wrong passwords in a row: none before `free_attempts`, then doubling up to `max_delay`."""
        if failures < self.free_attempts:
            return 0.0
        doublings = min(failures - self.free_attempts, 32)  # 2**32 seconds is far past any cap
        return min(self.first_delay * 2**doublings, self.max_delay)

    def _now(self) -> float:
        return self._clock() if self._clock is not None else default_clock()

    def _wait(self, now: float) -> int:
        return max(0, math.ceil(self._blocked_until - now))
