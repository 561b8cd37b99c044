"""Editor: for the partnership's procedure editors. Add, edit or delete documents, re-index with a
progress bar into a staged version, see what changed and which flow steps now cite moved or missing
text, then publish it (or leave it unpublished), and roll back.

Nothing an editor writes is lost: every save, upload, delete and restore keeps a version in the
document's history (`kb.doc_history`), with the editor's name (asked when unlocking), the time and
a one-line reason; a save based on a version that someone else has since replaced is refused and
both versions are shown; a draft is kept on disk as the editor types (`kb.drafts`, per editor), so
it survives other pages, a reload and a restart, and is offered back after unlocking under the same
name; another document is not opened, nor a file uploaded, over unsaved changes.

Publish is offered only beside the report of the version waiting to be published (worked out from
the versions themselves by `kb.review`, so every session shows the same one), and only while that
version still matches the corpus; otherwise the page says what changed since and offers a
re-index. Whenever the corpus differs from the version serving answers, the page says so first.
Versions are named by date and editor; their generation names appear only in a caption for support.

Locked behind a password (st.secrets["editor_password_hash"] or KB_EDITOR_PASSWORD_HASH, a salted
scrypt hash made by `kb editor set-password`; or, said on the page to be weaker, the plain text in
st.secrets["editor_password"] or KB_EDITOR_PASSWORD, or an old KB_EDITOR_PASSWORD_SHA256 digest),
checked by `kb.access.PasswordGate`: compared in constant time, never shown or logged, and repeated
wrong passwords made to wait, counted for the whole server rather than per browser session. Every
action is checked again in its callback, because Streamlit runs a widget's callback before the page
decides whether it is locked. Unlocking, and every change an editor makes, is recorded in the audit
log (`kb.audit`, by the gate and the service layer); the unlocked page shows the latest entries.
"""

from __future__ import annotations

import datetime as dt
import functools
import html

import streamlit as st

from kb import editor
from kb.access import PasswordGate, StoredPassword, configured_password, seconds
from kb.audit import NO_NAME, AuditLog
from kb.errors import EditConflictError, FlowGateError, IndexBusyError, KBError, StagedOutOfDateError, VersionGoneError
from kb.review import Change, ChangedDocument, StagedReview, time_in_words, word_difference
from ui.common import date_in_words, footer, get_kb, knowledge_base, md_text, settings

UNLOCKED = "editor_unlocked"
DRAFT = "editor_draft"  # {"name", "notes", "exists", "origin", "base", "started"}
DRAFT_TEXT = "editor_draft_text"  # the text area's own key: Streamlit drops it when the page is left
DRAFT_KEPT = "editor_draft_kept"  # the draft's text, kept while the editor is on other pages
CONFLICT = "editor_conflict"  # {"name", "theirs", "mine"} after a refused save
EDITOR_NAME = "editor_name"
GATED = "editor_gated"  # the staged version whose publish the flow check refused
DESPITE = "editor_despite"  # the editor's reason to publish it anyway
REASON = "editor_reason"
UNDELETE_REASON = "editor_undelete_reason"  # why a deleted document is restored
UPLOAD_SEEN = "editor_upload_seen"
SET_REVIEWED = "editor_set_reviewed"  # on saving, set the front matter's last_reviewed to today
UPLOAD_ROUND = "editor_upload_round"  # a new round gives a fresh, empty uploader after a save or discard
MESSAGES = "editor_messages"  # section -> (kind, text), shown once after an action
REPORT = "editor_report"  # the last re-index on this page, when it built no new version (its skipped documents)
DISMISSED = "editor_dismissed"  # staged generations the editor chose not to publish
RECENT_ACTIONS = 50  # entries of the audit log shown

STAGES = {  # stage -> (what to show, start and end of the stage on the progress bar)
    "load": ("Reading the documents", 0.0, 0.1),
    "embed": ("Preparing the search index", 0.1, 0.85),
    "store": ("Saving the new version", 0.85, 0.98),
    "done": ("Finished", 1.0, 1.0),
}


# the lock


@st.cache_resource(show_spinner=False)
def editor_gate(expected: StoredPassword, data_dir: str) -> PasswordGate:
    """One gate per configured password, shared by every session of this server, so that opening
    a new browser session does not start a fresh count of wrong passwords."""
    return PasswordGate(expected, audit=AuditLog(data_dir))


def current_gate() -> PasswordGate | None:
    """The gate for the password configured now, or None when none is set. Raises ConfigError for a malformed setting."""
    expected = configured_password(st.secrets if st.secrets.load_if_toml_exists() else None, settings())
    return None if expected is None else editor_gate(expected, str(settings().data_dir))


def unlocked(gate: PasswordGate | None) -> bool:
    """This session gave the password that is configured now (a changed or removed password locks every session)."""
    return gate is not None and st.session_state.get(UNLOCKED) == gate.unlock_token


def is_unlocked() -> bool:
    try:
        return unlocked(current_gate())
    except KBError:
        return False


def editor_action(callback):
    """An action callback that does nothing, and locks the page, unless this session is unlocked when it runs."""

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        if is_unlocked():
            return callback(*args, **kwargs)
        lock_again()
        return None

    return guarded


def show_lock(gate: PasswordGate | None) -> None:
    if gate is None:
        st.info(
            "The Editor is locked because no editor password is set. To set one, run `kb editor set-password`, "
            "then do either of these and restart the app:\n\n"
            "- put the line it prints in the app's environment (`KB_EDITOR_PASSWORD_HASH=...`), or\n"
            "- run it with `--secrets` and put that line in `.streamlit/secrets.toml` (in the project folder or in `ui/`).\n\n"
            "For development only, `KB_EDITOR_PASSWORD` (or the secret `editor_password`) can hold the password itself.",
            icon=":material/lock:",
        )
        return
    with st.form("editor_login", clear_on_submit=True):
        name = st.text_input("Your name (kept with each change you make)", key="editor_name_input", max_chars=80)
        password = st.text_input("Editor password", type="password", key="editor_password_input")
        submitted = st.form_submit_button("Unlock the Editor", key="editor_unlock", icon=":material/lock_open:")
    if submitted:
        given_name = " ".join((name or "").split()) or "an editor who gave no name"
        attempt = gate.attempt(password or "", editor=given_name)
        if attempt.granted:
            st.session_state[UNLOCKED] = gate.unlock_token
            st.session_state[EDITOR_NAME] = given_name
            st.rerun()
        st.error(attempt.message, icon=":material/lock:")
    elif wait := gate.wait_seconds():
        st.warning(f"Too many wrong passwords have been tried. Passwords are not checked for the next {seconds(wait)}.", icon=":material/timer:")


def lock_again() -> None:
    for key in (UNLOCKED, DRAFT, DRAFT_TEXT, DRAFT_KEPT, CONFLICT, EDITOR_NAME, REPORT, DISMISSED):
        st.session_state.pop(key, None)


# documents


def editor_name() -> str:
    return st.session_state.get(EDITOR_NAME, "an editor who gave no name")


def draft_changed() -> bool:
    """The open draft holds changes that are not saved."""
    draft = st.session_state.get(DRAFT)
    return draft is not None and st.session_state.get(DRAFT_KEPT, "") != draft.get("started", "")


def open_draft(draft: dict, text: str) -> None:
    st.session_state[DRAFT] = {**draft, "started": text}
    st.session_state[DRAFT_TEXT] = st.session_state[DRAFT_KEPT] = text
    st.session_state.pop(CONFLICT, None)


def drafts():
    """This editor's drafts kept on disk (by the name given at unlock)."""
    return knowledge_base().drafts(editor_name())


def kept_draft(name: str):
    """The draft of `name` kept on disk from an earlier visit, unless it is the one open here."""
    if st.session_state.get(DRAFT, {}).get("name") == name:
        return None
    try:
        return drafts().get(name)
    except KBError:
        return None


def keep_on_disk() -> None:
    """Keep the open draft on disk, or remove it there when it is the text it started from."""
    draft = st.session_state.get(DRAFT)
    if draft is None:
        return
    text = st.session_state.get(DRAFT_KEPT, "")
    try:
        if draft.get("started") is not None and text == draft["started"]:
            drafts().drop(draft["name"])
        else:
            drafts().keep(draft["name"], text, draft.get("base", ""))
    except KBError as exc:
        say("draft", "warning", f"Your draft is on this page only, not kept for a reload: {exc}.")


def unsaved_work_in_the_way(name: str, doing: str, section: str = "documents") -> bool:
    """Say so, and return True, when unsaved work would be replaced by `doing` with `name`: the
    draft open here, or a draft of `name` kept from an earlier visit."""
    if draft_changed():
        open_name = st.session_state[DRAFT]["name"]
        say(section, "warning", f"{open_name} has changes that are not saved: save or discard them below before {doing}.")
        return True
    kept = kept_draft(name)
    if kept is not None:
        say(section, "warning", f"You have an unsaved draft of {name} from {time_in_words(kept.saved_at)}: continue editing it or discard it (at the top of the page) before {doing}.")
        return True
    return False


@editor_action
def load_for_editing(name: str) -> None:
    if unsaved_work_in_the_way(name, f"opening {name}"):
        return
    settings = knowledge_base().settings
    try:
        text = editor.read_document(settings, name)
    except KBError as exc:
        say("documents", "error", str(exc))
        return
    open_draft({"name": name, "notes": [], "exists": True, "origin": f"{name} in the corpus", "base": editor.base_of(text)}, text)


@editor_action
def delete(name: str) -> None:
    try:
        editor.delete_document(knowledge_base().settings, name, editor=editor_name(), reason=st.session_state.get("editor_delete_reason", ""))
    except KBError as exc:
        say("documents", "error", str(exc))
        return
    say("documents", "success", f"Deleted {name}; its text is kept in its history, so it can be restored. Re-index below to take it out of the answers.")
    if st.session_state.get(DRAFT, {}).get("name") == name:
        discard()


def show_documents(settings) -> None:
    st.header("Documents", divider="gray")
    show_message("documents")
    try:
        documents = editor.list_documents(settings)
    except KBError as exc:
        st.error(md_text(str(exc)))
        return
    problems = [d for d in documents if not d.valid]
    summary = f"{len(documents)} documents in {settings.corpus_dir}. "
    if problems:
        summary += f"{len(problems)} with problems: they are skipped at re-index, and their last good version keeps serving."
    else:
        summary += "All of them are valid."
    st.caption(md_text(summary))
    st.dataframe(
        [{"File": d.name, "Title": d.title or "—", "Last reviewed": d.last_reviewed or "—", "Status": "OK" if d.valid else "Problem"} for d in documents],
        hide_index=True,
        width="stretch",
    )
    for d in problems:
        st.warning(md_text(d.error))
    name = st.selectbox("Choose a document to edit or delete", [d.name for d in documents], index=None, key="editor_chosen", placeholder="Choose a document")
    if name:
        edit_col, delete_col = st.columns(2)
        edit_col.button("Edit this document", key="editor_edit", on_click=load_for_editing, args=(name,), icon=":material/edit:", width="stretch")
        confirm = delete_col.checkbox(f"Yes, delete {name}", key="editor_delete_confirm")
        delete_col.text_input("Why delete it (kept in its history)", key="editor_delete_reason", max_chars=200)
        delete_col.button("Delete", key="editor_delete", on_click=delete, args=(name,), disabled=not confirm, icon=":material/delete:", width="stretch")
        show_history(settings, name)
    show_deleted(settings)


def show_history(settings, name: str) -> None:
    """A document's kept versions, newest first: what changed in each, and restore any of them."""
    versions = editor.history_of(settings, name)
    with st.expander(f"History of {md_text(name)} ({len(versions)} kept version{'s' if len(versions) != 1 else ''})", icon=":material/history:"):
        if not versions:
            st.markdown("No versions are kept yet: the history starts with the first change made here.")
            return
        for v in versions:
            restored = f", from version {v.restored_from}" if v.restored_from else ""
            reason = f": {md_text(v.reason)}" if v.reason else ""
            st.markdown(f"**Version {v.number}** · {md_text(v.action)}{restored} by {md_text(v.editor)} on {md_text(time_in_words(v.at))}{reason}")
        numbers = [v.number for v in versions if v.has_text]
        if not numbers:
            return
        chosen = st.selectbox("See a version and what changed in it", numbers, key=f"editor_history_{name}", format_func=lambda n: f"Version {n}")
        older = max((v.number for v in versions if v.has_text and v.number < chosen), default=None)  # the version just before it
        history = editor.document_history(settings)
        text = history.text(name, chosen)
        before = history.text(name, older) if older else ""
        st.code(editor.difference(before, text, f"version {older}" if older else "nothing", f"version {chosen}") or "No change in the text.", language="diff", wrap_lines=True)
        reason_key = f"editor_restore_reason_{name}"
        st.text_input(f"Why restore version {chosen}, in one line (kept in the document's history)", key=reason_key, max_chars=200)
        st.button(f"Restore version {chosen}", key=f"editor_restore_{name}", on_click=restore, args=(name, chosen, reason_key), icon=":material/restore:")


def show_deleted(settings) -> None:
    deleted = editor.deleted_documents(settings)
    if not deleted:
        return
    with st.expander(f"Deleted documents ({len(deleted)})", icon=":material/delete_history:"):
        st.text_input("Why restore it, in one line (kept in the document's history)", key=UNDELETE_REASON, max_chars=200)
        for name in deleted:
            last_text = next(v.number for v in editor.history_of(settings, name) if v.has_text)
            st.button(f"Restore {name}", key=f"editor_undelete_{name}", on_click=restore, args=(name, last_text, UNDELETE_REASON), icon=":material/restore_from_trash:")


@editor_action
def restore(name: str, number: int, reason_key: str) -> None:
    """Make version `number` the document again, with the reason typed in the box `reason_key`."""
    reason = st.session_state.get(reason_key, "")
    try:
        saved = editor.restore_document(knowledge_base().settings, name, number, editor=editor_name(), reason=reason)
    except KBError as exc:
        say("documents", "error", f"Not restored. {exc}")
        return
    st.session_state.pop(reason_key, None)
    say("documents", "success", f"Restored version {number} of {saved.name} as its newest version (version {saved.version}). Re-index below to serve it.")


# add or edit


@editor_action
def take_upload(settings) -> None:
    upload = st.session_state.get(upload_key())
    if upload is None or st.session_state.get(UPLOAD_SEEN) == upload.file_id:
        return
    st.session_state[UPLOAD_SEEN] = upload.file_id
    try:
        preview = editor.prepare_upload(settings, upload.name, upload.getvalue())
    except KBError as exc:
        say("draft", "error", f"{exc}")
        return
    if unsaved_work_in_the_way(preview.name, f"uploading {upload.name}", section="draft"):
        st.session_state[UPLOAD_ROUND] = st.session_state.get(UPLOAD_ROUND, 0) + 1  # an empty uploader again
        return
    draft = {"name": preview.name, "notes": list(preview.notes), "exists": preview.exists, "origin": f"uploaded {upload.name} ({preview.source_type.upper()})", "base": preview.base}
    draft["dropped"] = list(preview.dropped)
    open_draft(draft, preview.markdown)
    st.session_state[DRAFT]["started"] = None  # an upload is unsaved work from the start
    keep_on_disk()


@editor_action
def check_draft() -> None:
    draft = st.session_state[DRAFT]
    try:
        doc = editor.validate_document(draft["name"], st.session_state.get(DRAFT_KEPT, ""))
    except KBError as exc:
        say("draft", "error", f"Not ready to save yet. {exc}")
        return
    say("draft", "success", f"Valid: id {doc.id}, title “{doc.title}”, kind {doc.kind}.")


@editor_action
def save_draft(over: str | None = None) -> None:
    """Save the draft, if the document is still the version it was based on (or `over`, the
    version the editor chose to save over after a conflict)."""
    draft = st.session_state[DRAFT]
    mine = st.session_state.get(DRAFT_KEPT, "")
    if st.session_state.get(SET_REVIEWED, False):
        mine = editor.with_last_reviewed(mine, dt.date.today())
    action = "uploaded" if draft["origin"].startswith("uploaded") else "saved"
    try:
        saved = editor.write_document(
            knowledge_base().settings, draft["name"], mine,
            base=over if over is not None else draft.get("base", ""),
            editor=editor_name(), reason=st.session_state.get(REASON, ""), action=action,
        )  # fmt: skip
    except EditConflictError as exc:
        st.session_state[CONFLICT] = {"name": exc.name, "theirs": exc.theirs, "mine": exc.mine, "made": exc.theirs_version}
        say("draft", "error", f"Not saved. {exc}")
        return
    except KBError as exc:
        say("draft", "error", f"Not saved. {exc}")
        return
    if saved.replaced and action == "uploaded":
        done = f"Replaced {saved.name} (“{saved.title}”) with the uploaded file, as version {saved.version}; the text it replaced is kept in its history."
    else:
        done = f"Saved {saved.name} (“{saved.title}”) as version {saved.version}."
    say("draft", "success", f"{done} Re-index below to make it part of the answers.")
    discard()


@editor_action
def take_theirs() -> None:
    """After a conflict: drop this draft and open the version now in the corpus."""
    conflict = st.session_state.pop(CONFLICT)
    draft = st.session_state[DRAFT]
    if conflict["theirs"] is None:
        discard()
        say("documents", "info", f"{conflict['name']} was deleted; your draft was discarded.")
        return
    open_draft({**draft, "base": editor.base_of(conflict["theirs"]), "origin": f"{conflict['name']} in the corpus"}, conflict["theirs"])
    keep_on_disk()  # theirs, unchanged: the draft kept on disk goes


@editor_action
def keep_draft_text() -> None:
    st.session_state[DRAFT_KEPT] = st.session_state.get(DRAFT_TEXT, "")
    keep_on_disk()


@editor_action
def discard() -> None:
    draft = st.session_state.get(DRAFT)
    if draft is not None:
        try:
            drafts().drop(draft["name"])
        except KBError:
            pass  # a name no draft could have been kept under
    for key in (DRAFT, DRAFT_TEXT, DRAFT_KEPT, CONFLICT, REASON, SET_REVIEWED):
        st.session_state.pop(key, None)
    st.session_state[UPLOAD_ROUND] = st.session_state.get(UPLOAD_ROUND, 0) + 1


def show_kept_drafts() -> None:
    """The drafts this editor left unsaved (a reload, a lost connection, a lock): continue or discard each."""
    try:
        kept = [d for d in drafts().all() if d.document != st.session_state.get(DRAFT, {}).get("name")]
    except KBError:
        return
    for d in kept:
        with st.container(border=True):
            st.markdown(f"**You have an unsaved draft of {md_text(d.document)} from {md_text(time_in_words(d.saved_at))}.**")
            continue_col, discard_col = st.columns(2)
            continue_col.button("Continue editing", key=f"editor_draft_continue_{d.document}", on_click=continue_draft, args=(d.document,), icon=":material/edit_note:", width="stretch")
            discard_col.button("Discard", key=f"editor_draft_discard_{d.document}", on_click=discard_kept_draft, args=(d.document,), icon=":material/delete_sweep:", width="stretch")


@editor_action
def continue_draft(name: str) -> None:
    if draft_changed():
        open_name = st.session_state[DRAFT]["name"]
        say("documents", "warning", f"{open_name} has changes that are not saved: save or discard them below before continuing your draft of {name}.")
        return
    kept = kept_draft(name)
    if kept is None:
        say("documents", "info", f"Your draft of {name} is no longer kept (saved or discarded in another window).")
        return
    now = editor.current_text(knowledge_base().settings, name)
    notes = []
    if kept.base != editor.base_of(now):
        what = "deleted" if now is None else "changed by someone else"
        notes.append(f"{name} was {what} after you started this draft: saving it will show both versions to compare first.")
    open_draft({"name": name, "notes": notes, "exists": now is not None, "origin": f"your unsaved draft from {time_in_words(kept.saved_at)}", "base": kept.base}, kept.text)
    st.session_state[DRAFT]["started"] = None  # unsaved work: kept until it is saved or discarded


@editor_action
def discard_kept_draft(name: str) -> None:
    try:
        drafts().drop(name)
    except KBError as exc:
        say("documents", "error", str(exc))
        return
    say("documents", "info", f"Discarded your unsaved draft of {name}.")


def upload_key() -> str:
    return f"editor_upload_{st.session_state.get(UPLOAD_ROUND, 0)}"


def show_draft_area(settings) -> None:
    st.header("Add or edit a document", divider="gray")
    st.file_uploader(
        f"Upload a document: Markdown, HTML, Word (.docx) or PDF, up to {editor.MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
        type=list(editor.UPLOAD_TYPES),
        key=upload_key(),
        on_change=take_upload,
        args=(settings,),
    )
    show_message("draft")
    draft = st.session_state.get(DRAFT)
    if draft is None:
        st.caption("Upload a file, or choose a document above and press Edit. You can check and correct the Markdown here before it is saved.")
        return
    st.markdown(f"**Editing {md_text(draft['name'])}** · {md_text(draft['origin'])}")
    for note in draft["notes"]:
        st.info(md_text(note), icon=":material/info:")
    if draft.get("dropped"):
        st.warning("**Not carried over from the upload**\n\n" + "\n".join(f"- {md_text(line)}" for line in draft["dropped"]), icon=":material/content_cut:")
    if draft["exists"] and draft["origin"].startswith("uploaded"):
        st.warning(f"A document called {md_text(draft['name'])} is already in the corpus: saving replaces it.")
    st.session_state[DRAFT_TEXT] = st.session_state.get(DRAFT_KEPT, "")  # back from another page: the draft is still here
    st.text_area("Markdown with front matter (review before saving)", key=DRAFT_TEXT, height=420, on_change=keep_draft_text)
    show_conflict()
    st.text_input("What changed and why, in one line (kept in the document's history)", key=REASON, max_chars=200)
    today = dt.date.today()
    text = st.session_state.get(DRAFT_KEPT, "")
    if editor.with_last_reviewed(text, today) != text:
        st.checkbox(f"Set 'last reviewed' to today ({date_in_words(today.isoformat())})", value=True, key=SET_REVIEWED)
    check_col, save_col, discard_col = st.columns(3)
    check_col.button("Check", key="editor_check", on_click=check_draft, icon=":material/fact_check:", width="stretch")
    save_col.button("Save to the corpus", key="editor_save", on_click=save_draft, type="primary", icon=":material/save:", width="stretch")
    discard_col.button("Discard", key="editor_discard", on_click=discard, icon=":material/close:", width="stretch")


def show_conflict() -> None:
    conflict = st.session_state.get(CONFLICT)
    if not conflict:
        return
    theirs = conflict["theirs"]
    st.markdown(f"**{md_text(conflict['name'])} changed after you opened it.** {md_text(who_made(conflict.get('made'), theirs))} Compare the version in the corpus now with yours:")
    st.code(
        editor.difference(theirs or "", conflict["mine"], "in the corpus now" if theirs is not None else "deleted", "yours") or "No difference.",
        language="diff", wrap_lines=True,
    )  # fmt: skip
    mine_col, theirs_col = st.columns(2)
    mine_col.button(
        "Save mine over it (it stays in the history)", key="editor_save_over", on_click=save_draft, args=(editor.base_of(theirs),),
        icon=":material/save_as:", width="stretch",
    )  # fmt: skip
    theirs_col.button("Drop mine and open theirs", key="editor_take_theirs", on_click=take_theirs, icon=":material/sync:", width="stretch")


def who_made(version, theirs: str | None) -> str:
    """Who made the document what it is in the corpus now, and when, from its history:
    'Ann saved it on 2 December 2026 at 15:40 (“fixed the dates”).'"""
    if version is None:
        what = "deleted" if theirs is None else "changed"
        return f"It was {what} outside the Editor (on the server itself), so its history does not say who {what} it or when."
    did = {"saved": "saved this version", "uploaded": "uploaded this version", "restored": "restored an earlier version", "deleted": "deleted it"}.get(version.action, "saved this version")
    why = f" (“{version.reason}”)" if version.reason else ""
    who = "Someone who gave no name" if version.editor == NO_NAME else version.editor
    return f"{who} {did} on {time_in_words(version.at)}{why}."


# publish

CHANGED_WORDS_STYLE = {  # words taken out and put in, in a changed section's old and new text (WCAG AA on both)
    "del": "background:#fde2e1;color:#7a1010;text-decoration:line-through",
    "ins": "background:#dcf3dc;color:#0b4d1a;text-decoration:underline",
}


def run_index(kb) -> None:
    bar = st.progress(0.0, text="Starting the re-index...")

    def progress(stage: str, done: int, total: int) -> None:
        label, low, high = STAGES.get(stage, (stage.capitalize(), 0.0, 1.0))
        fraction = low + (high - low) * (done / total if total else 1.0)
        text = f"{label}: {done} of {total}" if stage == "embed" and total else label
        bar.progress(min(max(fraction, 0.0), 1.0), text=text)

    try:
        report = kb.index(progress=progress, publish=False, editor=editor_name())
    except IndexBusyError:
        say("publish", "warning", "Another re-index is running. Wait a minute, then try again.")
        return
    except KBError as exc:
        say("publish", "error", f"The re-index stopped and the version serving answers is unchanged. {exc}")
        return
    bar.progress(1.0, text="Finished")
    if report.generation and report.generation != report.previous_generation:
        st.session_state.pop(REPORT, None)
        serving = f"the version {version_name(kb, report.previous_generation)}" if report.previous_generation else "no version yet"
        say(
            "publish", "success",
            f"Re-indexed in {report.seconds:.1f} seconds. The new version is ready but not published: answers come from {serving} until you publish it. Check its report below first.",
        )  # fmt: skip
    else:
        st.session_state[REPORT] = report.as_dict()
        say("publish", "success", "Nothing changed since the version serving answers, so no new version was built.")


def version_name(kb, generation: str | None) -> str:
    """'published 2 December 2026 at 15:40 by Sam' (or 'built ...'), never the generation's name."""
    if not generation:
        return ""
    try:
        return str(kb.version_name(generation))
    except KBError:
        return "of an unknown date"


def show_last_run(report: dict | None) -> None:
    """The documents the last re-index here skipped, when it built no new version to report them."""
    if not report or not report.get("errors"):
        return
    st.markdown("**Documents skipped at the last re-index, and why**")
    for e in report["errors"]:
        where = e["file"] + (f", line {e['line']}" if e.get("line") else "") + (f", field {e['field']}" if e.get("field") else "")
        st.error(md_text(f"{where}: {e['reason']}"))


def show_staged(kb) -> None:
    """The version waiting to be published, with its report; Publish only while it matches the corpus."""
    try:
        review = kb.staged_review()
    except KBError as exc:
        st.error(md_text(f"The version waiting to be published cannot be read ({exc}). Re-index to build a new one."))
        return
    if review is None or review.generation in st.session_state.get(DISMISSED, []):
        return
    st.subheader("Waiting to be published", anchor=False)
    serving = f"the version {review.serving}" if review.serving else "no version yet"
    st.markdown(md_text(f"The version {review.version}. Answers come from {serving} until it is published."))
    show_review(kb, review)
    if review.publishable:
        show_publish_choice(kb, review)
    else:
        show_out_of_date(kb, review)


def show_review(kb, review: StagedReview) -> None:
    """What publishing changes: documents by title, sections by their question, the old and the new text."""
    with st.container(horizontal=True, gap="large"):  # a row that wraps on a phone
        st.metric("Added", review.count(Change.ADDED), help="Documents added")
        st.metric("Changed", review.count(Change.CHANGED), help="Documents changed")
        st.metric("Removed", review.count(Change.REMOVED), help="Documents removed")
        st.metric("Skipped", len(review.skipped), help="Documents skipped because of a problem")
    if any(d.of(Change.CHANGED) for d in review.documents):
        st.caption("In each changed section, the words taken out are struck through in red, and the words put in are underlined in green.")
    for doc in review.documents:
        show_changed_document(doc)
    if not review.documents:
        st.markdown("No document's text changes.")
    if review.skipped:
        st.markdown("**Documents skipped, and why**")
        for skipped in review.skipped:
            kept = "Its last good version stays in this version." if skipped.kept_previous else "It is not in this version."
            st.error(md_text(f"{skipped.document}{skipped.where}: {skipped.reason}. {kept}"))
    elif not review.report_kept:
        st.caption("This version was built before re-index reports were kept, so the documents it skipped are not known.")
    show_dropped_flows(review)
    if review.flow_steps:
        st.markdown("**Guided-flow steps whose cited text changed or disappeared**")
        st.caption("Check each step still says the right thing, and correct the flow if the text it relies on moved.")
        for step in review.flow_steps:
            what = "changed, and some of it is gone" if step.removed else "changed"
            icon = ":material/link_off:" if step.removed else ":material/change_circle:"
            st.warning(md_text(f"{step.flow}: the step “{step.step}” relies on {', '.join(step.sections)}, which {what}."), icon=icon)
    elif any(d.of(Change.CHANGED) or d.of(Change.REMOVED) for d in review.documents):
        st.caption("No guided-flow step cites the sections that changed.")
    if review.flows_changed:
        st.markdown("**The guided flows changed too** (they are published together with these documents).")
    problems = flow_problems(kb, review.generation)
    if problems:
        with st.expander(f"Flow check of this version: {len(problems)} problem{'s' if len(problems) != 1 else ''}"):
            for p in problems:
                st.markdown(f"- {md_text(str(p))}")


def show_dropped_flows(review: StagedReview) -> None:
    """The guided flows users have now that publishing would stop offering, by title, each with the
    steps that stop it by their question: the list Publish refuses on."""
    if not review.dropped_flows:
        return
    st.error(
        f"**Publishing this version would stop offering {md_text(flows_in_words(review.dropped_flows))} that users have now.** "
        "Correct each flow, or the document it quotes, and re-index; or publish anyway and say why.",
        icon=":material/link_off:",
    )
    for flow in review.dropped_flows:
        reasons = [str(reason) for reason in flow.reasons]
        st.markdown(f"**{md_text(flow.flow)}**\n" + "\n".join(f"- {md_text(line[:1].upper() + line[1:])}" for line in reasons))


def flows_in_words(flows) -> str:
    """'the guided flow “Neglect”' or 'the 2 guided flows “Neglect” and “Injury”' (plain text)."""
    titles = [f"“{f.flow}”" for f in flows]
    listed = titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"
    return f"the guided flow {listed}" if len(titles) == 1 else f"the {len(titles)} guided flows {listed}"


def show_changed_document(doc: ChangedDocument) -> None:
    name = doc.document.title or doc.document.file
    if doc.change is Change.CHANGED:
        parts = [f"{n} section{'s' if n != 1 else ''} {change.value}" for change in Change if (n := len(doc.of(change)))]
        label = f"{name}: changed ({', '.join(parts) or 'its details only'})"
    else:
        label = f"{name}: {'new document' if doc.change is Change.ADDED else 'removed'}"
    with st.expander(md_text(label), expanded=doc.change is Change.CHANGED, icon=":material/description:"):
        st.caption(md_text(f"File {doc.document.file}"))
        if doc.change is not Change.CHANGED:
            lead = "Its sections" if doc.change is Change.ADDED else "Its sections, which will no longer be quoted"
            st.markdown(f"{lead}:\n" + "\n".join(f"- {md_text(s.heading)}" for s in doc.sections))
            return
        if not doc.sections:
            st.markdown("Only the document's details change (its title, review date or other fields, or the “Also asked as” phrasings), not the text of a section.")
        for section in doc.of(Change.CHANGED):
            if section.reworded_only:
                st.markdown(f"**Question reworded:** “{md_text(section.was)}” is now “{md_text(section.heading)}”; its text is the same.")
                continue
            reworded = f" (was “{md_text(section.was)}”)" if section.was else ""
            st.markdown(f"**Changed: {md_text(section.heading)}**{reworded}")
            before, after = word_difference(section.before, section.after)
            served_col, publish_col = st.columns(2)  # side by side on a desktop; on a phone one above the other
            served_col.markdown("*Served now*")
            served_col.html(text_html(before, "del"))
            publish_col.markdown("*After publishing*")
            publish_col.html(text_html(after, "ins"))
        for section in doc.of(Change.ADDED):
            st.markdown(f"**Added: {md_text(section.heading)}**")
            st.html(text_html([(section.after, False)], "ins"))
        for section in doc.of(Change.REMOVED):
            st.markdown(f"**Removed: {md_text(section.heading)}**")
            st.html(text_html([(section.before, False)], "del"))


def text_html(runs: list[tuple[str, bool]], tag: str) -> str:
    """A section's text, HTML-escaped, with the changed runs marked as <del> or <ins>."""
    body = "".join(f"<{tag} style='{CHANGED_WORDS_STYLE[tag]}'>{html.escape(text)}</{tag}>" if changed else html.escape(text) for text, changed in runs)
    return f"<div style='white-space:pre-wrap;line-height:1.55'>{body or '&nbsp;'}</div>"


def show_out_of_date(kb, review: StagedReview) -> None:
    """Instead of Publish: why this version cannot be published, and a re-index that builds one that can."""
    changes = "\n".join(f"- {md_text(line)}" for line in review.drift.lines())
    st.warning(
        "**This version cannot be published.** It was built before these changes to the documents, so publishing it would serve "
        f"text that is no longer in the corpus:\n\n{changes}\n\nRe-index to build a version from the documents as they are now, "
        "check its report, then publish it.",
        icon=":material/sync_problem:",
    )
    if st.button("Re-index now", key="editor_reindex_stale", type="primary", icon=":material/sync:"):
        run_index(kb)
        st.rerun()


def show_publish_choice(kb, review: StagedReview) -> None:
    name = review.generation
    st.markdown("**Publish it?**")
    st.caption(
        "Publishing makes this version answer every question from now on; the version serving now is kept, so Roll back can return to it. "
        "Discard leaves it unpublished: nothing changes for users, and the next re-index replaces it."
    )
    if review.dropped_flows:
        st.session_state[GATED] = name
    if st.session_state.get(GATED) == name:
        st.text_input("Why publish it anyway, although guided flows would no longer be offered (kept in the log)", key=DESPITE, max_chars=300)
    publish_col, discard_col = st.columns(2)
    publish_col.button("Publish", key="editor_publish", on_click=publish, args=(kb, name), type="primary", icon=":material/publish:", width="stretch")
    discard_col.button("Discard", key="editor_discard_staged", on_click=discard_staged, args=(name,), icon=":material/close:", width="stretch")


@editor_action
def publish(kb, name: str) -> None:
    despite = st.session_state.get(DESPITE, "") if st.session_state.get(GATED) == name else ""
    try:
        old, new = kb.publish(name, despite=despite, editor=editor_name())
    except StagedOutOfDateError as exc:
        say("publish", "error", f"Not published: the documents changed after this version was built ({'; '.join(exc.differences)}). Re-index to build a version from them as they are now.")
        return
    except VersionGoneError as exc:
        say("publish", "warning", gone(kb, exc))
        return
    except FlowGateError as exc:
        st.session_state[GATED] = name
        say(
            "publish", "error",
            f"Not published: this version would stop offering {flows_in_words(exc.flows)} that users have now "
            "(each with the steps that stop it, in the report below). Correct the flow or the document it quotes and re-index, or say below why it should be published anyway.",
        )  # fmt: skip
        return
    except IndexBusyError:
        say("publish", "warning", "A re-index is running. Wait a minute, then try again.")
        return
    except KBError as exc:
        say("publish", "error", f"Could not publish: {exc}")
        return
    st.session_state.pop(REPORT, None)
    st.session_state.pop(GATED, None)
    was = f"; the version before it ({version_name(kb, old)}) is kept, so Roll back can return to it" if old else ""
    say("publish", "success", f"Published: answers now come from this version ({version_name(kb, new)}){was}.")


def gone(kb, exc: VersionGoneError) -> str:
    """Why the version an editor pressed Publish for is no longer waiting (another editor got there first)."""
    if exc.served == exc.generation:
        return f"Nothing to publish: this version was already {version_name(kb, exc.generation)}."
    if exc.staged and exc.staged != exc.generation:
        return f"Not published: while you were reading its report, a newer version was {version_name(kb, exc.staged)}, and it replaced this one. Check the new report below, then publish."
    return "Not published: this version is no longer waiting to be published (a later re-index, publish or rollback replaced it). Re-index to build a new one."


@editor_action
def discard_staged(name: str) -> None:
    dismissed = st.session_state.setdefault(DISMISSED, [])
    if name not in dismissed:
        dismissed.append(name)
    say("publish", "info", "The new version was not published: answers still come from the version serving now. The next re-index replaces it.")


def show_flows_not_served(kb) -> None:
    """The guided flows left out of the served version, and why (an editor fixes them in corpus/flows/)."""
    problems = kb.flow_problems
    if problems:
        st.header("Guided flows not offered", divider="gray")
        st.caption("These flows are not valid against the version being served, so users do not see them. Fix them in corpus/flows/ and re-index.")
        for p in problems:
            st.error(md_text(str(p)), icon=":material/alt_route:")


def flow_problems(kb, generation: str | None = None) -> list:
    """Every flow checked against the served version, or against the named (staged) one."""
    try:
        return kb.flow_check(generation)
    except KBError:
        return []


@editor_action
def roll_back(kb, earlier: str) -> None:
    try:
        _old, new = kb.rollback(editor=editor_name())
        put_back = kb.restore_corpus_to(new, editor=editor_name())
    except KBError as exc:
        say("publish", "error", f"Could not roll back: {exc}")
        return
    st.session_state.pop(REPORT, None)
    st.session_state["editor_rollback_confirm"] = False
    message = f"Rolled back: answers come again from the version {earlier}."
    if put_back.restored or put_back.deleted:
        message += " The documents are back as they were in it, so a re-index will not bring the changes back"
        message += f" (restored: {', '.join(put_back.restored) or 'none'}; deleted, kept in their history: {', '.join(put_back.deleted) or 'none'})."
    if put_back.unknown:
        message += " That version keeps no record of its files, so the documents were left as they are: check them before re-indexing."
    if put_back.not_restorable:
        message += (
            f" These were changed outside the Editor, so their text in that version is not kept: {', '.join(put_back.not_restorable)}."
            " Put them back by hand before re-indexing, or the next version will include those changes."
        )
        say("publish", "warning", message)
        return
    say("publish", "success", message)


def show_publish(kb) -> None:
    st.header("Publish", divider="gray")
    status_box = st.container()
    st.write(
        "Re-index after adding, editing or deleting documents. The new version is built beside the one serving answers and is not "
        "published until you have checked its report and pressed Publish; documents with problems are skipped and keep their last good version."
    )
    if st.button("Re-index now", key="editor_reindex", type="primary", icon=":material/sync:"):
        run_index(kb)
    show_message("publish")
    show_last_run(st.session_state.get(REPORT))
    show_staged(kb)

    status = kb.status()  # after any re-index above
    with status_box:
        if status["generation"]:
            st.caption(md_text(f"Answers come from the version {version_name(kb, status['generation'])}: {status['documents']} documents, {status['chunks']} passages."))
        else:
            st.caption("No version of the documents serves answers yet.")
    older = [g for g in status.get("generations") or [] if status["generation"] and g < status["generation"]]
    if older:
        earlier = version_name(kb, older[-1])
        st.markdown("**Roll back to the previous version**")
        st.caption(
            md_text(
                f"Rolling back serves the version {earlier} again, and puts the documents back as they were in it, so the next re-index does not bring the changes back."
            )
        )
        confirm = st.checkbox(md_text(f"Yes, serve the version {earlier} again"), key="editor_rollback_confirm")
        st.button("Roll back", key="editor_rollback", on_click=roll_back, args=(kb, earlier), disabled=not confirm, icon=":material/undo:")
    support = [f"serving {status['generation']}"] if status["generation"] else []
    support += [f"waiting to be published {status['staged']}"] if status.get("staged") else []
    support += [f"kept for rollback {', '.join(older)}"] if older else []
    if support:
        st.caption(md_text(f"For support: {'; '.join(support)}."))


def show_corpus_banner(kb) -> None:
    """Whenever the corpus differs from the version serving answers, say so, naming the documents."""
    try:
        if not kb.has_index():
            st.info("No version of the documents serves answers yet: re-index under Publish, check the report, then publish it.", icon=":material/info:")
            return
        serving = kb.served_version()
        drift = kb.corpus_drift()
        if serving is None or drift.unknown or drift.matches:
            return  # damaged (the page says so above), or nothing to compare, or the same
        staged = kb.staged()
        waiting = staged is not None and staged.name not in st.session_state.get(DISMISSED, []) and kb.corpus_drift(staged.name).matches
    except KBError:
        return
    changes = "\n".join(f"- {md_text(line)}" for line in drift.lines())
    then = (
        "A version with these changes is waiting to be published: check its report under Publish, then publish it."
        if waiting
        else "Re-index under Publish, check the report, then publish it."
    )
    st.warning(
        f"**The documents differ from the version answering questions** ({md_text(str(serving))}). Users get that version until a new one is published:\n\n{changes}\n\n{then}",
        icon=":material/difference:",
    )


def show_recent_actions(kb) -> None:
    """The latest entries of the editors' audit log, newest first, in words."""
    entries = kb.recent_actions(RECENT_ACTIONS)
    with st.expander(f"Recent editor actions ({len(entries)}{' latest' if len(entries) == RECENT_ACTIONS else ''})", icon=":material/manage_history:"):
        if not entries:
            st.markdown("No editor actions are recorded yet.")
            return
        names = kb.built_names(name for e in entries for name in (e.generation, e.previous) if name)
        in_words = {name: f"the version {version}" if version.at else "an earlier version, no longer kept" for name, version in names.items()}
        st.markdown("\n".join(f"- {time_in_words(e.at)}: {md_text(e.describe(in_words.__getitem__))}" for e in entries))


def say(section: str, kind: str, text: str) -> None:
    st.session_state.setdefault(MESSAGES, {})[section] = (kind, text)


def show_message(section: str) -> None:
    message = st.session_state.get(MESSAGES, {}).pop(section, None)
    if message:
        kind, text = message
        getattr(st, kind)(md_text(text))


st.title("Editor")
st.write("For the partnership's procedure editors: add or change documents, re-index, check what changed, publish, and roll back if needed.")
try:
    gate = current_gate()
except KBError as exc:  # a malformed KB_EDITOR_PASSWORD_HASH or KB_EDITOR_PASSWORD_SHA256
    st.session_state.pop(UNLOCKED, None)
    st.error(f"The Editor is locked because its password setting is wrong: {exc}.", icon=":material/lock:")
else:
    if not unlocked(gate):
        st.session_state.pop(UNLOCKED, None)
        show_lock(gate)
    elif (kb := get_kb()) is not None:
        st.button("Lock the Editor", key="editor_lock", on_click=lock_again, icon=":material/lock:")
        if gate.expected.warning:
            st.caption(gate.expected.warning)
        banner = st.container()  # filled last, after any re-index or publish further down
        take_upload(kb.settings)
        show_kept_drafts()
        show_documents(kb.settings)
        show_draft_area(kb.settings)
        show_flows_not_served(kb)
        show_publish(kb)
        show_recent_actions(kb)
        with banner:
            show_corpus_banner(kb)

footer()
