"""The Editor's password gate: the right password opens it, wrong ones are counted for the whole
server and made to wait, and during a wait nothing is checked, not even the right password."""

from __future__ import annotations

import threading
import time

import pytest

from kb.access import Outcome, PasswordGate, configured_digest, password_digest
from kb.errors import ConfigError

PASSWORD = "correct horse battery staple"


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
    return PasswordGate(password_digest(PASSWORD), clock=clock)


def test_only_the_exact_password_opens_the_gate(gate):
    assert gate.attempt(PASSWORD).granted
    for wrong in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1]):
        assert gate.attempt(wrong).outcome is Outcome.WRONG, repr(wrong)
        gate.attempt(PASSWORD)  # clears the count, so every wrong one here is checked


def test_a_password_with_any_characters_works(clock):
    password = "Ünïcødé pässwörd ✓ with spaces"
    assert PasswordGate(password_digest(password), clock=clock).attempt(password).granted


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


def test_a_wrong_password_is_answered_at_once_not_slept_on():
    gate = PasswordGate(password_digest(PASSWORD))  # the real clock
    started = time.monotonic()
    results = [gate.attempt(f"guess {i}") for i in range(10)]
    assert time.monotonic() - started < 0.5, "the gate says how long to wait; it never blocks the session's thread"
    assert results[3].outcome is Outcome.REFUSED and results[3].wait_seconds == 1


# where the password comes from


def test_the_secret_wins_over_the_environment():
    from_env = password_digest("from the environment")
    assert configured_digest("from secrets.toml", from_env) == password_digest("from secrets.toml")
    assert configured_digest(None, from_env) == from_env
    assert configured_digest("", from_env) == from_env, "an empty secret is no secret"
    assert configured_digest(None, None) is None
    assert configured_digest(None, "") is None


def test_a_digest_in_capitals_or_with_spaces_still_matches():
    digest = password_digest(PASSWORD)
    assert configured_digest(None, f"  {digest.upper()}\n") == digest


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("correct horse battery staple", "it is 28 characters long"),
        ("g" * 64, "it is not all hexadecimal digits"),
    ],
)
def test_a_malformed_digest_setting_is_refused_without_showing_it(setting, problem):
    with pytest.raises(ConfigError) as caught:
        configured_digest(None, setting)
    message = str(caught.value)
    assert message.startswith(f"KB_EDITOR_PASSWORD_SHA256 is not a SHA-256 digest: {problem}")
    assert "64 hexadecimal characters" in message and "KB_EDITOR_PASSWORD to the password itself" in message
    assert setting not in message, "the setting may be a password typed in the wrong variable: never repeat it"


def test_a_secret_that_is_not_text_is_refused():
    with pytest.raises(ConfigError, match=r"editor_password is a number, not text.*editor_password = \"...\""):
        configured_digest(1234, None)


@pytest.mark.parametrize(
    "arguments, names",
    [
        ({"expected_digest": "not a digest"}, "expected_digest must be a SHA-256 hex digest, 64 lower-case hexadecimal characters (got 12 characters)"),
        ({"free_attempts": 0}, "free_attempts is 0; it must be a whole number of at least 1"),
        ({"first_delay": 0}, "first_delay is 0; it must be more than 0 seconds"),
        ({"max_delay": 0.5}, "max_delay is 0.5; it must be at least first_delay (1.0 seconds)"),
        ({"forget_after": 30}, "forget_after is 30; it must be at least max_delay (60.0 seconds)"),
    ],
)
def test_bad_gate_settings_are_named(arguments, names):
    arguments = {"expected_digest": password_digest(PASSWORD), **arguments}
    with pytest.raises(ConfigError) as caught:
        PasswordGate(**arguments)
    assert str(caught.value).startswith(f"PasswordGate: {names}")
