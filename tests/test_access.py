"""The Editor's password: a salted scrypt hash (and the older forms, still accepted and said to be
weaker), where it comes from, `kb editor set-password`; and the gate: the right password opens
it, wrong ones are counted for the whole server and made to wait, during a wait nothing is checked,
not even the right password, and every checked attempt is in the audit log."""

from __future__ import annotations

import threading
import time

import pytest

from kb import access
from kb.access import Outcome, PasswordForm, PasswordGate, StoredPassword, configured_password, hash_password, password_digest
from kb.audit import Action, AuditLog
from kb.config import Settings
from kb.errors import ConfigError

PASSWORD = "correct horse battery staple"
HASHED = hash_password(PASSWORD)  # made once: each hash takes about 50 ms


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(clock) -> PasswordGate:
    """A gate on the salted hash: the throttle's tests check at most a few passwords each."""
    return PasswordGate(StoredPassword.from_hash(HASHED), clock=clock)


def test_only_the_exact_password_opens_the_gate(gate):
    assert gate.attempt(PASSWORD).granted
    for wrong in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1]):
        assert gate.attempt(wrong).outcome is Outcome.WRONG, repr(wrong)
        gate.attempt(PASSWORD)  # clears the count, so every wrong one here is checked


def test_a_password_with_any_characters_works(clock):
    password = "Ünïcødé pässwörd ✓ with spaces"
    assert PasswordGate(StoredPassword.from_hash(hash_password(password)), clock=clock).attempt(password).granted
    assert PasswordGate(StoredPassword.from_plain(password), clock=clock).attempt(password).granted


def test_three_wrong_passwords_then_even_the_right_one_waits_unchecked(gate, clock):
    results = [gate.attempt(f"guess {i}") for i in range(3)]
    assert [r.outcome for r in results] == [Outcome.WRONG] * 3
    assert [r.wait_seconds for r in results] == [0, 0, 1]
    assert "wait 1 second before the next try" in results[-1].message

    refused = gate.attempt(PASSWORD)
    assert refused.outcome is Outcome.REFUSED and not refused.granted
    assert refused.message == "Too many wrong passwords have been tried, so this one was not checked. Wait 1 second, then try again."
    clock.advance(0.5)
    assert gate.attempt(PASSWORD).outcome is Outcome.REFUSED, "still waiting half-way"
    assert gate.wait_seconds() == 1, "refused attempts do not make the wait longer"

    clock.advance(0.5)
    assert gate.wait_seconds() == 0
    assert gate.attempt(PASSWORD).granted, "the right password after the wait opens the gate"
    after = gate.attempt("one more typo")
    assert after.outcome is Outcome.WRONG and after.wait_seconds == 0, "the right password cleared the count"


def test_each_further_wrong_password_doubles_the_wait_up_to_a_minute(gate, clock):
    waits = []
    for i in range(11):
        result = gate.attempt(f"guess {i}")
        assert result.outcome is Outcome.WRONG, f"attempt {i} comes after the wait, so it is checked"
        waits.append(result.wait_seconds)
        clock.advance(result.wait_seconds)
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_wrong_guesses_during_a_wait_are_not_checked_at_all(gate, clock):
    for i in range(3):
        gate.attempt(f"guess {i}")
    for _ in range(100):
        assert gate.attempt("fast guess").outcome is Outcome.REFUSED
    clock.advance(1)
    assert gate.attempt("slow guess").wait_seconds == 2, "only the 4th checked wrong password counts, not the 100 refused ones"


def test_wrong_passwords_are_forgotten_after_a_quiet_quarter_of_an_hour(gate, clock):
    gate.attempt("typo on Monday")
    gate.attempt("another typo on Monday")
    clock.advance(15 * 60)
    assert gate.attempt("typo a quarter of an hour later").wait_seconds == 0
    assert gate.attempt("and another").wait_seconds == 0
    assert gate.attempt("and a third").wait_seconds == 1, "a new count of three started"


def test_sessions_on_threads_share_one_count_and_cannot_race_past_it(gate):
    """Twenty sessions guessing at the same instant: three are checked, the other seventeen wait."""
    start = threading.Barrier(20)
    outcomes: list[Outcome] = []

    def session(i: int) -> None:
        start.wait()
        outcomes.append(gate.attempt(f"guess {i}").outcome)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.value for o in outcomes) == sorted(["wrong"] * 3 + ["refused"] * 17)


def test_a_wrong_password_is_answered_at_once_not_slept_on(gate, monkeypatch, spy):
    def no_sleeping(seconds: float) -> None:
        raise AssertionError(f"the gate slept {seconds} s: it must say how long to wait, never block the session's thread")

    monkeypatch.setattr(time, "sleep", no_sleeping)
    checked = spy(access, "_scrypt")  # about 50 ms each: the only costly step
    results = [gate.attempt(f"guess {i}") for i in range(10)]
    assert [r.outcome for r in results] == [Outcome.WRONG] * 3 + [Outcome.REFUSED] * 7
    assert results[3].wait_seconds == 1
    assert len(checked) == 3, "only the three checked guesses cost a hash; the refused ones cost nothing"


# the salted hash


def test_a_hash_matches_its_password_and_no_other():
    stored = StoredPassword.from_hash(HASHED)
    assert stored.form is PasswordForm.SCRYPT and stored.warning is None
    assert stored.matches(PASSWORD)
    for wrong in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1], password_digest(PASSWORD), HASHED):
        assert not stored.matches(wrong), repr(wrong)


def test_the_hash_records_its_parameters_and_a_new_salt_each_time():
    again = hash_password(PASSWORD)
    assert HASHED.startswith("scrypt:n=16384,r=8,p=1:") and again.startswith("scrypt:n=16384,r=8,p=1:")
    (_, _, salt, key), (_, _, salt_again, key_again) = HASHED.split(":"), again.split(":")
    assert salt != salt_again and key != key_again, "two hashes of one password share nothing an attacker could reuse"
    assert len(salt) >= 22, "16 random bytes of salt in base64"
    assert StoredPassword.from_hash(again).matches(PASSWORD)
    assert "$" not in HASHED and "=" not in HASHED.split(":", 2)[2], "nothing a shell or an env file would change"


def test_a_hash_made_with_other_parameters_is_checked_with_them():
    cheaper = hash_password(PASSWORD, n=2**10, r=4, p=2)
    assert cheaper.startswith("scrypt:n=1024,r=4,p=2:")
    assert StoredPassword.from_hash(cheaper).matches(PASSWORD)
    assert not StoredPassword.from_hash(cheaper).matches("something else")


def test_an_empty_password_cannot_be_hashed():
    with pytest.raises(ConfigError, match="the Editor password is empty"):
        hash_password("")


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("correct horse battery staple", "it does not start with 'scrypt:'"),
        (password_digest(PASSWORD), "it is a SHA-256 digest, which belongs in KB_EDITOR_PASSWORD_SHA256"),
        (f'"{HASHED}"', "it is wrapped in quotes, which are not part of the hash"),
        (f"KB_EDITOR_PASSWORD_HASH={HASHED}", "it has something before 'scrypt:' (the whole line pasted, perhaps)"),
        (HASHED.rsplit(":", 1)[0], "it has 3 parts separated by ':', not 4"),
        (HASHED.replace("n=16384,r=8,p=1", "n=16384;r=8;p=1"), "its second part is not the parameters n=<number>,r=<number>,p=<number>"),
        (HASHED[:-3] + "+/=", "its salt or hash is not URL-safe base64"),
        (HASHED.replace(HASHED.split(":")[2], "c2FsdA"), "its salt is 4 bytes long; it must be at least 16"),
        (HASHED.replace(HASHED.split(":")[3], "c2hvcnQ"), "its hash is 5 bytes long; it must be 16 to 64"),
    ],
)
def test_a_malformed_hash_setting_is_refused_saying_what_is_wrong_and_what_is_right(setting, problem):
    with pytest.raises(ConfigError) as caught:
        configured_password(None, Settings.from_env(environ={"KB_EDITOR_PASSWORD_HASH": setting}))
    message = str(caught.value)
    assert message.startswith(f"KB_EDITOR_PASSWORD_HASH is not a password hash: {problem}")
    assert "scrypt:n=16384,r=8,p=1:<salt>:<hash>" in message and "kb editor set-password" in message
    assert setting not in message and PASSWORD not in message, "the setting may be a password typed in the wrong variable: never repeat it"


@pytest.mark.parametrize(
    "parameters, problem",
    [
        ("n=1000,r=8,p=1", "its n=1000, r=8, p=1 are not scrypt parameters: n must be a power of two above 1"),
        ("n=131072,r=1,p=1", "with r=1, n must be below 65,536"),
        ("n=2097152,r=8,p=1", "would take 2,048 MB of memory to check each password; at most 256 MB"),
    ],
)
def test_hash_parameters_that_cannot_work_or_would_exhaust_memory_are_refused(parameters, problem):
    setting = HASHED.replace("n=16384,r=8,p=1", parameters)
    with pytest.raises(ConfigError) as caught:
        StoredPassword.from_hash(setting)
    assert str(caught.value).startswith("KB_EDITOR_PASSWORD_HASH is not a usable password hash: ")
    assert problem in str(caught.value) and "kb editor set-password" in str(caught.value)


# where the password comes from, and the older forms


def settings_with(**environ: str) -> Settings:
    return Settings.from_env(environ=environ)


def test_the_plain_text_setting_still_works_and_is_said_to_be_for_development():
    stored = configured_password(None, settings_with(KB_EDITOR_PASSWORD=PASSWORD))
    assert stored.form is PasswordForm.PLAIN and stored.setting == "KB_EDITOR_PASSWORD"
    assert PASSWORD not in repr(stored), "the password itself is not kept, only its digest"
    assert stored.matches(PASSWORD) and not stored.matches(PASSWORD.upper())
    assert PasswordGate(stored).attempt(PASSWORD).granted
    assert stored.warning == ("The Editor password is set in plain text (`KB_EDITOR_PASSWORD`), which is meant for development: use `kb editor set-password` for a shared machine.")


def test_the_settings_never_show_a_plain_text_password():
    settings = settings_with(KB_EDITOR_PASSWORD=PASSWORD)
    assert settings.editor_password == PASSWORD
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_the_old_sha256_setting_still_works_and_is_said_to_be_weaker():
    stored = configured_password(None, settings_with(KB_EDITOR_PASSWORD_SHA256=f"  {password_digest(PASSWORD).upper()}\n"))
    assert stored.form is PasswordForm.SHA256 and stored.value == password_digest(PASSWORD)
    assert stored.matches(PASSWORD) and not stored.matches("not it")
    assert "unsalted SHA-256 digest (`KB_EDITOR_PASSWORD_SHA256`)" in stored.warning and "kb editor set-password" in stored.warning


def test_a_secret_wins_over_the_environment_and_a_hash_over_the_older_forms():
    env = {"KB_EDITOR_PASSWORD": "plain env", "KB_EDITOR_PASSWORD_SHA256": password_digest("sha env"), "KB_EDITOR_PASSWORD_HASH": hash_password("hash env")}
    secrets = {"editor_password": "plain secret", "editor_password_hash": hash_password("hash secret")}
    order = [("hash secret", secrets, env), ("plain secret", {"editor_password": "plain secret"}, env), ("hash env", {}, env)]
    order += [("sha env", {}, {k: v for k, v in env.items() if k != "KB_EDITOR_PASSWORD_HASH"}), ("plain env", {}, {"KB_EDITOR_PASSWORD": "plain env"})]
    for password, given_secrets, environ in order:
        stored = configured_password(given_secrets, Settings.from_env(environ=environ))
        assert stored.matches(password), password
    assert configured_password({"editor_password": "plain secret"}, settings_with()).setting == "the secret editor_password"
    assert "plain text (the secret `editor_password`)" in configured_password({"editor_password": "x"}, settings_with()).warning
    assert configured_password({"editor_password": "", "editor_password_hash": ""}, settings_with()) is None, "an empty secret is no secret"
    assert configured_password(None, settings_with()) is None
    assert configured_password(None, settings_with(KB_EDITOR_PASSWORD_HASH="")) is None


def test_a_malformed_hash_secret_is_named_as_the_secret():
    with pytest.raises(ConfigError, match="^the secret editor_password_hash is not a password hash: it does not start with 'scrypt:'"):
        configured_password({"editor_password_hash": "hunter2"}, settings_with())


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("correct horse battery staple", "it is 28 characters long"),
        ("g" * 64, "it is not all hexadecimal digits"),
    ],
)
def test_a_malformed_digest_setting_is_refused_without_showing_it(setting, problem):
    with pytest.raises(ConfigError) as caught:
        configured_password(None, settings_with(KB_EDITOR_PASSWORD_SHA256=setting))
    message = str(caught.value)
    assert message.startswith(f"KB_EDITOR_PASSWORD_SHA256 is not a SHA-256 digest: {problem}")
    assert "64 hexadecimal characters" in message and "KB_EDITOR_PASSWORD to the password itself" in message and "KB_EDITOR_PASSWORD_HASH" in message
    assert setting not in message, "the setting may be a password typed in the wrong variable: never repeat it"


@pytest.mark.parametrize("key", ["editor_password", "editor_password_hash"])
def test_a_secret_that_is_not_text_is_refused(key):
    with pytest.raises(ConfigError, match=rf"{key} is a number, not text.*{key} = \"...\""):
        configured_password({key: 1234}, settings_with())


@pytest.mark.parametrize(
    "arguments, names",
    [
        ({"expected": password_digest(PASSWORD)}, "expected must be a StoredPassword (got a str)"),
        ({"free_attempts": 0}, "free_attempts is 0; it must be a whole number of at least 1"),
        ({"first_delay": 0}, "first_delay is 0; it must be more than 0 seconds"),
        ({"max_delay": 0.5}, "max_delay is 0.5; it must be at least first_delay (1.0 seconds)"),
        ({"forget_after": 30}, "forget_after is 30; it must be at least max_delay (60.0 seconds)"),
    ],
)
def test_bad_gate_settings_are_named(arguments, names):
    arguments = {"expected": StoredPassword.from_plain(PASSWORD), **arguments}
    with pytest.raises(ConfigError) as caught:
        PasswordGate(**arguments)
    assert str(caught.value).startswith(f"PasswordGate: {names}")


# the audit log of attempts


def test_each_checked_attempt_is_in_the_audit_log_and_refused_ones_are_not(clock, tmp_path):
    audit = AuditLog(tmp_path)
    gate = PasswordGate(StoredPassword.from_hash(HASHED), clock=clock, audit=audit)
    assert gate.attempt(PASSWORD, editor="Sam Editor").granted
    for i in range(3):
        gate.attempt(f"guess {i}", editor="Someone")
    assert gate.attempt(PASSWORD, editor="Sam Editor").outcome is Outcome.REFUSED
    entries = audit.read()
    assert [(e.action, e.editor) for e in entries] == [(Action.UNLOCK_FAILED, "Someone")] * 3 + [(Action.UNLOCKED, "Sam Editor")]
    assert all(PASSWORD not in line and "guess" not in line for line in audit.path.read_text().splitlines()), "no password, right or wrong, is written"
