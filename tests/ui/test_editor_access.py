"""The Editor's lock, driven through the page with AppTest: no editor action exists without the
password, nothing a browser can send gets past the lock, and wrong passwords are slowed down for
every session of the server, not just the one guessing.

Each AppTest is a separate browser session; st.cache_resource (the knowledge base and the password
gate) is shared by all of them, as in the real server.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

import kb.access

ROOT = Path(__file__).resolve().parents[2]
EDITOR_PAGE = ROOT / "ui" / "views" / "editor.py"
TIMEOUT = 180  # the first unlocked run may load the embedding model
PASSWORD = "correct horse battery staple"
DOCUMENT = "head-lice.md"

LOGIN = {"editor_name_input": "text_input", "editor_password_input": "text_input", "editor_unlock": "button"}  # all a locked page may show
ACTIONS = {  # every editor action -> the widget that does it
    "upload a document": "editor_upload_0",
    "open a document for editing": "editor_edit",
    "check the draft": "editor_check",
    "save to the corpus": "editor_save",
    "discard the draft": "editor_discard",
    "delete a document": "editor_delete",
    "re-index into a staged version": "editor_reindex",
    "publish the staged version": "editor_publish",
    "discard the staged version": "editor_discard_staged",
    "re-index when the staged version no longer matches the documents": "editor_reindex_stale",
    "continue an unsaved draft kept from before": f"editor_draft_continue_{DOCUMENT}",
    "discard an unsaved draft kept from before": f"editor_draft_discard_{DOCUMENT}",
    "roll back": "editor_rollback",
    "restore a kept version": f"editor_restore_{DOCUMENT}",
    "lock the Editor": "editor_lock",
}
CHOICES = {
    "editor_chosen",
    "editor_delete_confirm",
    "editor_draft_text",
    "editor_set_reviewed",
    "editor_rollback_confirm",
    "editor_reason",
    "editor_delete_reason",
    f"editor_history_{DOCUMENT}",
    f"editor_restore_reason_{DOCUMENT}",
    "editor_upload_1",
}  # inputs the actions read


def all_widgets(at: AppTest) -> list[Widget]:
    found: list[Widget] = []

    def walk(node) -> None:
        if isinstance(node, Widget):
            found.append(node)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return found


def widgets(at: AppTest) -> dict[str, str]:
    """Every widget on the page, of any kind: key (or id when it has none) -> type."""
    return {w.key or w.id: w.type for w in all_widgets(at)}


def hold_values(at: AppTest) -> None:
    """Keep the values the page shows now in its widgets, as a browser tab does, so that the page can be
    sent again after the session has moved on (AppTest otherwise reads them from the session)."""
    for w in all_widgets(at):
        if w.type in ("checkbox", "selectbox", "text_input") and not w.disabled:
            w.set_value(w.value)


def editor_session(password: object | None = PASSWORD) -> AppTest:
    """A new browser session on the Editor page, with `password` as the configured secret (None: no password set)."""
    at = AppTest.from_file(str(EDITOR_PAGE), default_timeout=TIMEOUT)
    if password is not None:
        at.secrets["editor_password"] = password
    return at.run()


def try_password(at: AppTest, password: str) -> AppTest:
    at.text_input(key="editor_password_input").input(password)
    return at.button(key="editor_unlock").click().run()


def shown(at: AppTest) -> str:
    return "\n".join(a.value for kind in (at.error, at.warning, at.info, at.success) for a in kind).replace("\\", "")


def revise(corpus: Path, n: int) -> None:
    path = corpus / DOCUMENT
    path.write_text(path.read_text() + f"\n\nRevision note {n}: checked by the editors.\n")


def snapshot(corpus: Path, data: Path) -> dict[str, object]:
    """What an editor action could change: the corpus files and the index generations."""
    return {
        "corpus": {p.name: p.read_bytes() for p in sorted(corpus.iterdir())},
        "served": (data / "CURRENT").read_text() if (data / "CURRENT").exists() else None,
        "generations": sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.name.startswith("gen-")),
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory, point_app):
    """A one-document corpus with three index generations: gen-000001 (older, for rollback),
    gen-000002 (served) and gen-000003 (staged, not published), plus one unindexed revision,
    so that every editor action has a widget. No editor password in the environment."""

    from kb.config import Settings
    from kb.service import KnowledgeBase

    base = tmp_path_factory.mktemp("editor-access")
    corpus, data = base / "corpus", base / "data"
    corpus.mkdir()
    for name in (DOCUMENT, "contacts.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    service = KnowledgeBase(Settings.from_env(environ={}, corpus_dir=corpus, data_dir=data))
    try:
        service.index()
        revise(corpus, 1)
        service.index()
        revise(corpus, 2)
        service.index(publish=False)
    finally:
        service.close()
    revise(corpus, 3)

    with point_app(corpus, data):
        try:
            yield corpus, data
        finally:
            from ui.common import knowledge_base

            knowledge_base().close()


@pytest.fixture(scope="module")
def unlocked_widgets(site) -> dict[str, str]:
    """The widgets an unlocked editor meets: after unlocking (the staged version no longer matches
    the documents), choosing a document, opening it, re-indexing, saving, and unlocking again with
    an unsaved draft left behind."""
    at = try_password(editor_session(), PASSWORD)
    assert not at.exception, at.exception
    seen = widgets(at)
    at.selectbox(key="editor_chosen").select(DOCUMENT).run()
    seen |= widgets(at)
    at.button(key="editor_edit").click().run()
    seen |= widgets(at)
    at.button(key="editor_reindex").click().run()
    assert not at.exception, at.exception
    seen |= widgets(at)
    draft = at.text_area(key="editor_draft_text")
    draft.input(draft.value + "\nA sentence added by the access test.\n").run()
    at.button(key="editor_save").click().run()  # a kept version: the history offers restore
    assert not at.exception, at.exception
    seen |= widgets(at)
    at.button(key="editor_edit").click().run()
    draft = at.text_area(key="editor_draft_text")
    draft.input(draft.value + "\nAn unsaved sentence.\n").run()  # kept on disk
    at.button(key="editor_lock").click().run()
    try_password(at, PASSWORD)
    assert not at.exception, at.exception
    seen |= widgets(at)  # the unsaved draft offered back
    at.button(key=f"editor_draft_discard_{DOCUMENT}").click().run()
    assert not at.exception, at.exception
    return seen


def test_the_right_password_offers_every_editor_action(unlocked_widgets):
    missing = {action: key for action, key in ACTIONS.items() if key not in unlocked_widgets}
    assert not missing, f"these actions had no widget once unlocked: {missing}"
    assert unlocked_widgets[ACTIONS["upload a document"]] == "file_uploader"
    unknown = set(unlocked_widgets) - set(ACTIONS.values()) - CHOICES
    assert not unknown, f"the page has widgets this test does not know: {unknown}; add each to ACTIONS (or CHOICES) so the locked page is checked for it"


@pytest.mark.parametrize(
    "configured, given, says, login",
    [
        (None, None, "no editor password is set", {}),
        (1234, None, "its password setting is wrong: the secret editor_password is a number, not text", {}),
        (PASSWORD, None, None, LOGIN),
        (PASSWORD, "a wrong password", "That password is not right", LOGIN),
    ],
    ids=["no password configured", "password set wrongly", "password not yet given", "wrong password"],
)
def test_a_locked_page_has_no_editor_action(site, unlocked_widgets, configured, given, says, login):
    at = editor_session(configured)
    if given is not None:
        try_password(at, given)
    assert not at.exception
    if says:
        assert says in shown(at)
    on_page = widgets(at)
    actions = set(unlocked_widgets) - set(LOGIN)
    assert not actions & set(on_page), f"editor widgets shown while locked: {actions & set(on_page)}"
    assert on_page == login, "a locked page shows at most the password box and its button"
    assert "editor_unlocked" not in at.session_state


def test_values_sent_for_hidden_action_widgets_do_nothing(site, unlocked_widgets):
    """A browser can send a value for any widget key; for the action widgets of a locked page nothing happens."""
    corpus, data = site
    before = snapshot(corpus, data)
    at = editor_session()
    forged = {"button": True, "checkbox": True, "selectbox": DOCUMENT, "text_area": "---\ntitle: Forged\n---\n# Forged\n"}
    for key, kind in unlocked_widgets.items():
        if key not in LOGIN and kind in forged:
            at.session_state[key] = forged[kind]
    at.run()
    at.run()
    assert not at.exception
    assert widgets(at) == LOGIN
    assert "editor_unlocked" not in at.session_state
    assert snapshot(corpus, data) == before, "nothing in the corpus or the index changed"


@pytest.mark.parametrize("how", ["the editor locked it", "the password was changed", "the password was removed"])
def test_a_page_shown_before_the_lock_cannot_act_after_it(site, how):
    """A click sent from a page rendered while unlocked (a stale tab, a replayed request) does nothing once
    the Editor is locked, even though Streamlit runs the button's callback before the page checks the lock."""
    corpus, _data = site
    at = try_password(editor_session(), PASSWORD)
    at.selectbox(key="editor_chosen").select(DOCUMENT).run()
    at.checkbox(key="editor_delete_confirm").check().run()
    delete = at.button(key="editor_delete")  # kept from the unlocked page
    assert not delete.disabled
    hold_values(at)
    if how == "the editor locked it":
        at.button(key="editor_lock").click().run()
        assert widgets(at) == LOGIN
    elif how == "the password was changed":
        at.secrets["editor_password"] = "a new password after a leak"
    else:
        at.secrets.clear()
    delete.click().run()  # that page's widget values, with Delete pressed
    assert not at.exception
    assert (corpus / DOCUMENT).exists(), "the document was not deleted"
    assert not set(widgets(at)) - set(LOGIN), "the page is locked"
    assert "editor_unlocked" not in at.session_state


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_wrong_passwords_slow_down_every_session_of_the_server(site, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(kb.access, "default_clock", clock)
    password = "a password only this test uses"  # its own gate, so other tests' attempts do not count

    for i in range(3):  # three sessions, one guess each
        at = try_password(editor_session(password), f"guess {i}")
        assert "That password is not right" in shown(at)
    assert "wait 1 second before the next try" in shown(at)

    during = try_password(editor_session(password), password)  # a fourth session, the right password, too soon
    assert "this one was not checked. Wait 1 second, then try again" in shown(during)
    assert widgets(during) == LOGIN and "editor_unlocked" not in during.session_state
    assert "Passwords are not checked for the next 1 second" in shown(editor_session(password)), "a new session is told of the wait"

    clock.advance(1)
    assert "wait 2 seconds before the next try" in shown(try_password(editor_session(password), "guess 3")), "each wrong password doubles the wait"
    clock.advance(1)
    assert "Wait 1 second" in shown(try_password(editor_session(password), password))

    clock.advance(1)
    at = try_password(editor_session(password), password)
    assert not at.exception
    assert ACTIONS["upload a document"] in widgets(at), "the right password after the wait unlocks"
    assert shown(try_password(editor_session(password), "a typo")).startswith("That password is not right. Check it"), "and clears the count"
