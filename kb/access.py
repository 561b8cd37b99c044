"""Who may use the Editor: the password check, and a throttle on wrong guesses shared by the whole server.

The password itself is never kept. It is set as a salted scrypt hash (`KB_EDITOR_PASSWORD_HASH`,
made by `kb editor set-password` with `hash_password`), whose parameters and salt are written in
it: `scrypt:n=16384,r=8,p=1:<salt>:<hash>`, the salt and hash in URL-safe base64 (no '$', so a
shell or an env file leaves it alone). Two older forms still work and are reported as weaker: the
plain text (`KB_EDITOR_PASSWORD`, meant for development; its SHA-256 digest is what is held) and
an unsalted SHA-256 digest (`KB_EDITOR_PASSWORD_SHA256`). Hashes are compared in constant time
(`hmac.compare_digest`).

After `free_attempts` wrong passwords in a row, every further attempt has to wait: first
`first_delay` seconds, doubling with each wrong password up to `max_delay`. While a wait runs,
every attempt is refused *without being checked*, even the right password, so guessing faster
gains nothing (and costs the server no scrypt work). The right password after the wait clears the
count, and so does a quiet spell of `forget_after` seconds with no wrong password.

One gate serves every browser session of the server (a new session does not start a new count)
and is safe to use from Streamlit's session threads; passwords are checked one at a time (about
50 ms each with the default scrypt parameters). It never sleeps: it says how long to wait. Given
an `AuditLog`, it records each checked attempt, granted or wrong, with the name the editor gave.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from kb.audit import Action, AuditLog
from kb.config import Settings
from kb.errors import ConfigError

log = logging.getLogger(__name__)

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
HASH_SETTING = "KB_EDITOR_PASSWORD_HASH"
SHA256_SETTING = "KB_EDITOR_PASSWORD_SHA256"
PLAIN_SETTING = "KB_EDITOR_PASSWORD"
HASH_SECRET = "editor_password_hash"
PLAIN_SECRET = "editor_password"

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MB and about 50 ms a check
SALT_BYTES, KEY_BYTES = 16, 32
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024  # what one check may take, whatever a hash setting asks for
HASH_SHAPE = "scrypt:n=16384,r=8,p=1:<salt>:<hash>"
_B64 = re.compile(r"[A-Za-z0-9_-]+")


def default_clock() -> float:
    """The gates' default clock: monotonic seconds. Looked up at every check, so a test can replace it."""
    return time.monotonic()


def password_digest(password: str) -> str:
    """The SHA-256 hex digest of a password (UTF-8): the older, unsalted form."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


# the salted, slow hash


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of `password`, with its parameters and a new random salt written in it:
    the value of KB_EDITOR_PASSWORD_HASH. Two hashes of one password differ (their salts do)."""
    if not isinstance(password, str) or password == "":
        raise ConfigError("the Editor password is empty: an empty password would let anyone in; give at least one character")
    ScryptHash.check_cost(n, r, p, HASH_SETTING)
    salt = secrets.token_bytes(SALT_BYTES)
    return ScryptHash(n, r, p, salt, _scrypt(password, salt, n, r, p, KEY_BYTES)).text


@dataclass(frozen=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    @property
    def text(self) -> str:
        return f"scrypt:n={self.n},r={self.r},p={self.p}:{_b64(self.salt)}:{_b64(self.key)}"

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(_scrypt(password, self.salt, self.n, self.r, self.p, len(self.key)), self.key)

    @classmethod
    def parse(cls, text: str, setting: str = HASH_SETTING) -> ScryptHash:
        """The hash a setting holds, or ConfigError naming the setting, what is wrong and what would be right
        (never repeating the value: it may be a password typed in the wrong place)."""
        value = str(text).strip()
        parts = value.split(":")
        if SHA256_HEX.fullmatch(value.lower()):
            wrong = f"it is a SHA-256 digest, which belongs in {SHA256_SETTING}"
        elif value[:1] in ("'", '"'):
            wrong = "it is wrapped in quotes, which are not part of the hash"
        elif parts[0] != "scrypt":
            wrong = "it has something before 'scrypt:' (the whole line pasted, perhaps)" if "scrypt:" in value else "it does not start with 'scrypt:'"
        elif len(parts) != 4:
            wrong = f"it has {len(parts)} parts separated by ':', not 4"
        elif not (costs := re.fullmatch(r"n=(\d{1,10}),r=(\d{1,6}),p=(\d{1,6})", parts[1])):
            wrong = "its second part is not the parameters n=<number>,r=<number>,p=<number>"
        elif not (_B64.fullmatch(parts[2]) and _B64.fullmatch(parts[3])) or len(parts[2]) % 4 == 1 or len(parts[3]) % 4 == 1:
            wrong = "its salt or hash is not URL-safe base64 (letters, digits, '-' and '_')"
        else:
            n, r, p = (int(x) for x in costs.groups())
            salt, key = _unb64(parts[2]), _unb64(parts[3])
            cls.check_cost(n, r, p, setting)
            if len(salt) < SALT_BYTES:
                wrong = f"its salt is {len(salt)} byte{'s' if len(salt) != 1 else ''} long; it must be at least {SALT_BYTES}"
            elif not 16 <= len(key) <= 64:
                wrong = f"its hash is {len(key)} bytes long; it must be 16 to 64 (kb editor set-password makes {KEY_BYTES})"
            else:
                return cls(n, r, p, salt, key)
        raise ConfigError(
            f"{setting} is not a password hash: {wrong}, so no password could ever match it. "
            f"It must look like `{HASH_SHAPE}`, exactly as `kb editor set-password` prints it; "
            f"or set {PLAIN_SETTING} to the password itself instead (for development)"
        )

    @staticmethod
    def check_cost(n: int, r: int, p: int, setting: str) -> None:
        memory = 128 * r * (n + p + 2)
        if n < 2 or n & (n - 1) or r < 1 or p < 1:
            why = "are not scrypt parameters: n must be a power of two above 1, r and p at least 1"
        elif n >= 2 ** min(16 * r, 64):
            why = f"are not scrypt parameters: with r={r}, n must be below {2 ** (16 * r):,}"
        elif memory > MAX_SCRYPT_MEMORY:
            why = f"would take {memory // 2**20:,} MB of memory to check each password; at most {MAX_SCRYPT_MEMORY // 2**20} MB is allowed"
        else:
            return
        raise ConfigError(
            f"{setting} is not a usable password hash: its n={n}, r={r}, p={p} {why}. `kb editor set-password` makes one with n={SCRYPT_N}, r={SCRYPT_R}, p={SCRYPT_P}"
        )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * r * (n + p + 2) + 2**20, dklen=length)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - the pattern and length were checked
        return b""


# where the password comes from


class PasswordForm(Enum):
    SCRYPT = "a salted scrypt hash"
    SHA256 = "an unsalted SHA-256 digest"
    PLAIN = "plain text"


@dataclass(frozen=True)
class StoredPassword:
    """The Editor password as the server holds it, never the password itself: a salted scrypt hash,
    or the SHA-256 digest of an older setting or of a plain-text one; and the setting it came from."""

    form: PasswordForm
    setting: str  # e.g. "KB_EDITOR_PASSWORD_HASH" or "the secret editor_password"
    value: str  # the scrypt hash's text, or a SHA-256 hex digest

    def __post_init__(self) -> None:
        if self.form is PasswordForm.SCRYPT:
            ScryptHash.parse(self.value, self.setting)
        elif not SHA256_HEX.fullmatch(self.value):
            raise ConfigError(f"StoredPassword: the value of a {self.form.name} password must be a SHA-256 digest, 64 lower-case hexadecimal characters")

    @classmethod
    def from_hash(cls, text: str, setting: str = HASH_SETTING) -> StoredPassword:
        return cls(PasswordForm.SCRYPT, setting, ScryptHash.parse(text, setting).text)

    @classmethod
    def from_plain(cls, password: str, setting: str = PLAIN_SETTING) -> StoredPassword:
        return cls(PasswordForm.PLAIN, setting, password_digest(password))

    @classmethod
    def from_sha256(cls, digest: str, setting: str = SHA256_SETTING) -> StoredPassword:
        value = str(digest).strip().lower()
        if not SHA256_HEX.fullmatch(value):
            what = f"{len(value)} characters long" if len(value) != 64 else "not all hexadecimal digits"
            raise ConfigError(
                f"{setting} is not a SHA-256 digest: it is {what}, so no password could ever match it. "
                "It must be 64 hexadecimal characters (0-9, a-f), for example the output of `printf %s 'the password' | sha256sum`; "
                f"better, set {HASH_SETTING} to what `kb editor set-password` prints; or set {PLAIN_SETTING} to the password itself instead"
            )
        return cls(PasswordForm.SHA256, setting, value)

    def matches(self, password: str) -> bool:
        """Whether `password` is the one this holds (compared in constant time)."""
        if self.form is PasswordForm.SCRYPT:
            return ScryptHash.parse(self.value, self.setting).matches(password)
        return hmac.compare_digest(hashlib.sha256(password.encode("utf-8")).digest(), bytes.fromhex(self.value))

    @property
    def warning(self) -> str | None:
        """What to tell the editors when the password is held in a weaker form than a salted hash (Markdown), or None."""
        fix = "use `kb editor set-password` for a shared machine"
        secret, _, name = self.setting.rpartition(" ")
        where = f"{secret} `{name}`".strip()
        if self.form is PasswordForm.PLAIN:
            return f"The Editor password is set in plain text ({where}), which is meant for development: {fix}."
        if self.form is PasswordForm.SHA256:
            return f"The Editor password is set as an unsalted SHA-256 digest ({where}), which is quick to guess from if it leaks: {fix}."
        return None


def configured_password(secret_values: Mapping[str, object] | None, settings: Settings) -> StoredPassword | None:
    """The Editor password as configured, or None when none is set.

    A Streamlit secret wins over the environment; within each, the salted hash wins over the older
    forms: the secrets `editor_password_hash`, then `editor_password` (plain text); then
    KB_EDITOR_PASSWORD_HASH, KB_EDITOR_PASSWORD_SHA256, KB_EDITOR_PASSWORD (plain text).
    ConfigError names a setting that is set wrongly.
    """
    secret_values = secret_values or {}
    for key, make in ((HASH_SECRET, StoredPassword.from_hash), (PLAIN_SECRET, StoredPassword.from_plain)):
        value = secret_values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            kind = {"bool": "true or false", "int": "a number", "float": "a number"}.get(type(value).__name__, f"a {type(value).__name__}")
            raise ConfigError(f'the secret {key} is {kind}, not text, so it is not used as a password; write it in quotes in .streamlit/secrets.toml: {key} = "..."')
        return make(value, f"the secret {key}")
    if settings.editor_password_hash:
        return StoredPassword.from_hash(settings.editor_password_hash)
    if settings.editor_password_sha256:
        return StoredPassword.from_sha256(settings.editor_password_sha256)
    if settings.editor_password:
        return StoredPassword.from_plain(settings.editor_password)
    return None


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
    """Checks the Editor password against the stored one, and makes repeated wrong guesses wait."""

    def __init__(
        self,
        expected: StoredPassword,
        *,
        free_attempts: int = 3,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        forget_after: float = 900.0,
        clock: Callable[[], float] | None = None,
        audit: AuditLog | None = None,
    ):
        if not isinstance(expected, StoredPassword):
            raise ConfigError(
                f"PasswordGate: expected must be a StoredPassword (got a {type(expected).__name__}); "
                "make it with StoredPassword.from_hash(hash_password(password)) or configured_password(...)"
            )
        if not isinstance(free_attempts, int) or free_attempts < 1:
            raise ConfigError(f"PasswordGate: free_attempts is {free_attempts!r}; it must be a whole number of at least 1")
        if not first_delay > 0:
            raise ConfigError(f"PasswordGate: first_delay is {first_delay!r}; it must be more than 0 seconds")
        if not max_delay >= first_delay:
            raise ConfigError(f"PasswordGate: max_delay is {max_delay!r}; it must be at least first_delay ({first_delay!r} seconds)")
        if not forget_after >= max_delay:
            raise ConfigError(f"PasswordGate: forget_after is {forget_after!r}; it must be at least max_delay ({max_delay!r} seconds)")
        self.expected = expected
        self.free_attempts = free_attempts
        self.first_delay = float(first_delay)
        self.max_delay = float(max_delay)
        self.forget_after = float(forget_after)
        self.audit = audit
        self._clock = clock  # None: default_clock, looked up at each check
        self._lock = threading.Lock()
        self._failures = 0  # wrong passwords in a row
        self._last_failure = 0.0
        self._blocked_until = 0.0
        self.unlock_token = secrets.token_urlsafe(16)  # what a session keeps once unlocked; a new gate (new password) has a new one

    def attempt(self, password: str, editor: str = "") -> Attempt:
        """Check one password, unless a wait is running; count it if it is wrong. `editor` is the
        name given with it, for the audit log (a checked attempt is recorded, a refused one is not)."""
        result = self._check(password)
        if self.audit is not None and result.outcome is not Outcome.REFUSED:
            self.audit.record(Action.UNLOCKED if result.granted else Action.UNLOCK_FAILED, editor)
        return result

    def _check(self, password: str) -> Attempt:
        with self._lock:  # one check at a time, so that a burst of guesses cannot race past the count
            now = self._now()
            if now < self._blocked_until:
                wait = self._wait(now)
                log.info("Editor password attempt refused unchecked: %s of waiting left", seconds(wait))
                return Attempt(Outcome.REFUSED, wait)
            if self._failures and now - self._last_failure >= self.forget_after:
                self._failures = 0
            if self.expected.matches(password):
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
