"""Privacy and no network in the real app: one session in headless Chromium against `kb serve`
(what scripts/run starts), with default settings over a temporary data folder.

The server runs with the network guard of tests/test_privacy.py (an audit hook that records and
refuses every connection or look-up leaving the machine), Python logging at INFO, and its
output captured to files. The session asks a question naming a unique marker, follows the
suggested flow to its outcome, writes the marker into the notes and downloads the decision
record. Then: the marker is in the downloads and nowhere else on disk; the server connected to
nothing outside the machine; the browser requested nothing but the app itself.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the shared privacy helpers

from test_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, free_port, stop_server, wait_until_healthy  # noqa: E402
from test_privacy import (  # noqa: E402
    KB,
    ROOT,
    Sandbox,
    describe_outbound,
    every_file,
    find_marker,
    make_sandbox,
    marker_encodings_in,
    marker_question,
    new_marker,
    places_written_during,
)

from kb.flows.record import NOTES_HEADINGS  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Session:
    box: Sandbox
    marker: str
    reply: str  # the assistant's reply as shown
    records: dict[Path, str]  # where each download was saved -> its text
    downloads: Path  # the folder the browser saved them in (Playwright empties it when the browser closes)
    requests: list[str]  # every URL the browser requested, web sockets included
    logs: Path  # the server's standard output and error (Python logging at INFO goes to the latter)


@pytest.fixture(scope="module")
def session(tmp_path_factory, flow_walk) -> Session:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed, so the app cannot be driven in a real browser")
    from playwright.sync_api import sync_playwright

    flow, path = flow_walk
    box = make_sandbox(tmp_path_factory.mktemp("privacy-browser"))
    marker = new_marker()
    downloads = box.base / "downloads"
    logs = box.base / "logs"
    logs.mkdir()
    port = free_port()
    # The data folder is empty: `kb serve` builds the index first, as on a first run, then runs Streamlit.
    with open(logs / "server.out", "w") as out, open(logs / "server.err", "w") as err:
        server = subprocess.Popen([str(KB), "serve", "--port", str(port)], cwd=ROOT, env=box.env(), stdout=out, stderr=err)
    requests: list[str] = []
    records: dict[Path, str] = {}
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server, logs / "server.err", seconds=240)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, downloads_path=str(downloads))
            try:
                context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
                context.on("request", lambda request: requests.append(request.url))
                page = context.new_page()
                page.on("websocket", lambda socket: requests.append(socket.url))
                page.set_default_timeout(120_000)
                page.goto(url)
                page.get_by_text("In an emergency call 999.").first.wait_for()

                question = page.get_by_placeholder("Type your question here")
                question.fill(marker_question(marker))
                question.press("Enter")
                page.get_by_text("Sources", exact=True).wait_for()
                reply = page.locator("[data-testid='stMain']").inner_text()  # the emergency guidance and the answer

                page.get_by_role("button", name=f"Guided flow: {flow.title}").click()
                for node_id, _option, label in path:
                    page.get_by_role("heading", name=flow.nodes[node_id].question).wait_for()
                    page.get_by_role("button", name=label, exact=True).click()
                for n, heading in enumerate(NOTES_HEADINGS):
                    page.get_by_label(heading).fill(f"Note {n}: {marker} said her stepdad hit her at the Tuesday club.")
                page.keyboard.press("Tab")  # leave the last note, as a person does before pressing Download
                page.wait_for_timeout(1500)  # and let the page settle: a press while the buttons are redrawn can be lost
                for label in ("Download the decision record", "Download it as a web page, to print"):
                    button = page.get_by_role("button", name=label)
                    button.wait_for()
                    with page.expect_download() as info:
                        button.click()
                    saved = Path(info.value.path())
                    records[saved] = saved.read_text(encoding="utf-8")

                page.goto(f"{url}/contacts")
                search = page.get_by_label("Search the contacts")
                search.fill(marker)
                search.press("Enter")
                page.get_by_text("No contact matches").wait_for()
                page.goto(f"{url}/glossary")
                page.get_by_label("Search the glossary").wait_for()
                page.goto(f"{url}/editor")
                page.get_by_text("The Editor is locked").first.wait_for()
                context.close()
            finally:
                browser.close()
    finally:
        stop_server(server)
    return Session(box, marker, reply, records, downloads, requests, logs)


def test_the_session_answered_and_the_record_holds_the_notes(session):
    """The marker really went through the app: the reply came, and the notes are in the record."""
    assert "call 999 now" in session.reply and "[1]" in session.reply
    assert len(session.records) == 2
    for saved, text in session.records.items():
        assert session.downloads in saved.parents, "only the downloads folder is left out of the search"
        assert f"{session.marker} said her stepdad hit her" in text
        assert marker_encodings_in(session.marker, text.encode("utf-8")), "the search would not recognise the marker as the app writes it"


def test_nothing_typed_into_the_app_is_kept(session):
    """Not in the data or corpus folders, the server's log (Python logging at INFO), its home
    folder (~/.streamlit, ~/.cache) or temporary folder, nor in any file written anywhere in the
    project, the home folder or the machine's temporary folders during the session: only in the
    browser's downloads."""
    box = session.box
    log = (session.logs / "server.err").read_text(encoding="utf-8")
    assert "INFO kb.index.searcher" in log, "the app did not log at INFO (the test's sitecustomize.py was not loaded)"
    assert "Open http://127.0.0.1:" in (session.logs / "server.out").read_text(encoding="utf-8")
    files = every_file(box.base) + places_written_during(box.stamp)
    hits = find_marker(session.marker, files, exclude=(session.downloads,))
    assert hits == [], "the marker was kept:\n" + "\n".join(hits)


def test_neither_the_server_nor_the_browser_reaches_outside_the_machine(session):
    attempts = session.box.outbound()
    assert attempts == [], describe_outbound(attempts)
    assert session.requests, "the browser's requests were not recorded"
    outside = [url for url in session.requests if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOCAL_HOSTS]
    assert outside == [], f"the browser requested: {sorted(set(outside))}"
