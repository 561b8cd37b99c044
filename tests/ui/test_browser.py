"""The whole app in headless Chromium, at desktop and phone width: ask a question and see the
emergency guidance in view and a cited answer; follow a suggested flow to its outcome and download
the record; reach every page from the navigation; every telephone number is a tap-to-call link;
axe-core finds no accessibility violation in the app's pages. Screenshots go to test-output/ui/;
the Ask page at desktop width is also copied to docs/screenshot-ask.png for the README."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from accessibility import axe_available, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = ROOT / "test-output" / "ui"
README_SCREENSHOT = ROOT / "docs" / "screenshot-ask.png"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
QUESTION = "A boy told me his dad hits him. What do I do?"
EDITOR_PASSWORD = "browser test password"
KITES_QUESTION = "Who checks the kite lines before children fly the kites?"
KITES_ANSWER = "The session leader checks every kite line"
KITES_HTML = (
    "<html><head><title>Kites</title></head><body><h1>Kite flying at youth clubs</h1>"
    "<h2>Who checks the kite lines?</h2><p>The session leader checks every kite line before children fly the kites.</p></body></html>"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, proc: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not answer on {url} within {seconds} seconds:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, small_index):
    """`streamlit run ui/app.py` on a free port, over its own small corpus and prepared index."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed, so the app cannot be driven in a real browser")
    corpus, data = small_index(tmp_path_factory.mktemp("browser"))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_CORPUS_DIR=str(corpus), KB_DATA_DIR=str(data), KB_EDITOR_PASSWORD=EDITOR_PASSWORD, HAYSTACK_TELEMETRY_ENABLED="False")
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "ui/app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, proc, log)
        yield url
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen) -> None:
    """Ask the server to stop; kill it if it has not stopped after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed, so the app cannot be driven in a real browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# visible text that looks like a telephone number but is not inside a link
UNLINKED_NUMBERS_JS = r"""() => {
  const phone = /(^|[^\w£.,\/:-])(0\d{2,4}(?: ?\d{2,4}){1,3}|999|101|116 ?\d{3})(?![\w\/:%-]|[.,]\d)/;
  const walker = document.createTreeWalker(document.querySelector('[data-testid="stMain"]'), NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest('a') || el.closest('textarea, input, [data-testid="stExpanderDetails"]') || !el.offsetParent) continue;
    const m = node.textContent.match(phone);
    if (m && m[2].replace(/\D/g, '').length >= (m[2].startsWith('0') ? 8 : 3)) found.push(node.textContent.trim().slice(0, 80));
  }
  return found;
}"""


def unlinked_phone_numbers(page) -> list[str]:
    return page.evaluate(UNLINKED_NUMBERS_JS)


STYLED_JS = "() => { const p = document.querySelector('.st-key-danger_line p'); return !!p && getComputedStyle(p).color === 'rgb(138, 28, 28)'; }"


def wait_until_styled(page) -> None:
    """The app's style (ui/common.py PAGE_STYLE) arrives a moment after the first elements."""
    page.wait_for_function(STYLED_JS)


def assert_accessible(page, where: str) -> None:
    wait_until_styled(page)
    if not axe_available():
        pytest.fail("axe-core is missing from tests/ui/axe/node_modules: run scripts/setup test (it runs npm ci there)")
    violations = axe_violations(page)
    assert not violations, f"{where}: " + "; ".join(map(str, violations))


def screenshot(page, name: str) -> Path:
    """The whole page: the viewport grows to the height of Streamlit's scrolling container first."""
    width = page.viewport_size["width"]
    page.wait_for_timeout(600)
    height = page.evaluate(
        "() => Math.max(document.body.scrollHeight, ...Array.from(document.querySelectorAll('*'))"
        ".filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": width, "height": max(int(height) + 20, 600)})
    page.wait_for_timeout(600)
    path = OUTPUT / f"{name}-{width}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": DESKTOP["height"] if width > 600 else PHONE["height"]})
    return path


def open_page(browser, url: str, viewport: dict):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(90_000)
    page.goto(url)
    page.get_by_text("In an emergency call 999.").first.wait_for()
    return page


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_ask_a_question_and_see_a_cited_answer(app_url, browser, viewport):
    page = open_page(browser, app_url, viewport)
    try:
        danger = page.locator(".st-key-danger_line")
        assert danger.is_visible() and page.locator(".st-key-danger_line a[href='tel:999']").count() == 1, "'In danger now? Call 999' is on the page"
        box = page.get_by_placeholder("Type your question here")
        box.fill(QUESTION)
        box.press("Enter")
        page.get_by_text("Sources", exact=True).wait_for()
        emergency = page.locator("[data-testid='stAlertContentError']").first
        assert emergency.is_visible() and "call 999 now" in emergency.inner_text()
        top = emergency.bounding_box()["y"]
        assert 0 <= top < viewport["height"] - 100, f"the emergency guidance starts in view when the answer arrives (at {top:.0f} px)"
        assert emergency.locator("a[href='tel:999']").count(), "999 in the emergency guidance can be tapped to call"
        assert page.get_by_text("Answering:").first.is_visible(), "the answer names the question it answers"
        assert page.get_by_text("What to do first:").first.is_visible(), "the asker's first step is in the answer, in normal text"
        assert not unlinked_phone_numbers(page), f"every number shown can be tapped: {unlinked_phone_numbers(page)}"
        marker = page.locator("a[href^='#turn0-source-']").first
        marker.click()
        page.wait_for_timeout(500)
        source = page.locator("[data-testid='stExpander'] summary").first
        assert source.inner_text().strip().startswith("[1]") or "[1]" in source.inner_text()
        assert 0 <= source.bounding_box()["y"] < viewport["height"], "a citation marker jumps to its source"
        assert danger.is_visible() and 0 <= danger.bounding_box()["y"] < 120, "the danger line stays in view while scrolling"
        source.click()
        page.locator("mark").first.wait_for()
        assert page.get_by_text("last reviewed", exact=False).first.is_visible()
        assert_accessible(page, f"Ask with an answer at {viewport['width']} px")
        page.mouse.click(2, 300)  # away from the chat box, so it is not shown focused
        page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
        path = screenshot(page, "ask")
        if viewport is DESKTOP:
            README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_SCREENSHOT)
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_follow_a_suggested_flow_to_its_outcome(app_url, browser, viewport, flow_walk):
    flow, path = flow_walk
    page = open_page(browser, app_url, viewport)
    try:
        box = page.get_by_placeholder("Type your question here")
        box.fill(QUESTION)
        box.press("Enter")
        page.get_by_text("Step-by-step help").wait_for()
        page.get_by_role("button", name=f"Guided flow: {flow.title}").click()
        page.get_by_role("heading", name=flow.nodes[flow.start].question).wait_for()
        assert "/flows" in page.url
        assert page.locator(".st-key-danger_line a[href='tel:999']").is_visible(), "'Call 999' is on the Guided flows page too"
        for n, (node_id, _option, label) in enumerate(path):
            page.get_by_role("heading", name=flow.nodes[node_id].question).wait_for()
            assert page.get_by_text(f"Question {n + 1}", exact=True).is_visible(), "the progress line counts up and never grows a total"
            if n == 1 or len(path) == 1:
                screenshot(page, "flow-question")
                assert_accessible(page, f"a flow question at {viewport['width']} px")
            page.get_by_role("button", name=label, exact=True).click()
        outcome = next(node for node in flow.nodes.values() if node.is_outcome and node.id == _last_target(flow, path))
        page.get_by_role("heading", name=outcome.outcome).wait_for()
        assert page.get_by_text("By when:").first.is_visible()
        page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
        two_screens = 2 * viewport["height"]
        for first_things in ("What to do now", "Who to contact"):
            where = page.get_by_text(first_things, exact=True).first.bounding_box()["y"]
            assert where < two_screens, f"'{first_things}' is within the first two screens ({where:.0f} px)"
        assert not unlinked_phone_numbers(page), f"every number in the outcome can be tapped: {unlinked_phone_numbers(page)}"
        assert_accessible(page, f"a flow outcome at {viewport['width']} px")
        page.get_by_label("What are we worried about?").fill("Seen at the Tuesday club; bruise on the arm.")
        download = page.get_by_role("button", name="Download the decision record")
        with page.expect_download() as info:
            download.click()  # straight after typing: one press, the notes as typed
        record = Path(info.value.path()).read_text(encoding="utf-8")
        assert record.startswith(f"# Decision record: {flow.title}")
        assert "Seen at the Tuesday club; bruise on the arm." in record
        screenshot(page, "flow-outcome")
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_navigation_reaches_every_page(app_url, browser, viewport):
    page = open_page(browser, app_url, viewport)
    try:
        for title, slug, ready in NAVIGATION:
            link = page.get_by_role("link", name=title, exact=True)
            assert link.is_visible(), f"'{title}' is shown by name, with no menu to open"
            link.click()
            page.wait_for_url(lambda url, slug=slug: url.rstrip("/").endswith(slug) if slug else url.rstrip("/").count("/") == 2)
            page.get_by_text(ready).first.wait_for()
    finally:
        page.close()


NAVIGATION = [
    ("Guided flows", "/flows", "Guided flows"),
    ("Glossary", "/glossary", "Search the glossary"),
    ("Contacts", "/contacts", "Search the contacts"),
    ("What's new", "/whats_new", "What changed in the procedures"),
    ("Editor", "/editor", "Editor password"),
    ("Ask", "", "Ask about the procedures"),
]


def _last_target(flow, path) -> str:
    node_id = flow.start
    for step_node, option, _label in path:
        node_id = flow.nodes[step_node].options[option].next
    return node_id


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize(("slug", "ready"), [("flows", "Guided flows"), ("glossary", "Search the glossary"), ("contacts", "Search the contacts"), ("whats_new", "What changed in the procedures"), ("editor", "Editor password")])
def test_every_other_page_opens(app_url, browser, viewport, slug, ready):
    page = open_page(browser, f"{app_url}/{slug}", viewport)
    try:
        page.get_by_text(ready).first.wait_for()
        assert not page.locator("[data-testid='stException']").count()
        assert not unlinked_phone_numbers(page), f"every number on {slug} can be tapped: {unlinked_phone_numbers(page)}"
        if slug == "contacts":
            search = page.get_by_label("Search the contacts")
            search.fill("out of hours")
            search.press("Enter")
            page.wait_for_timeout(800)
            first_card = page.locator("[data-testid='stVerticalBlockBorderWrapper'], [data-testid='stLayoutWrapper'] [data-testid='stVerticalBlock']").filter(has_text="Last checked").first
            assert "Emergency Duty Team" in first_card.inner_text(), "'out of hours' finds the out-of-hours service first"
        assert_accessible(page, f"{slug} at {viewport['width']} px")
        screenshot(page, slug)
    finally:
        page.close()


def ask_in_new_page(browser, app_url: str, question: str) -> str:
    """The text of the assistant's reply to `question` on the Ask page."""
    page = open_page(browser, app_url, DESKTOP)
    try:
        box = page.get_by_placeholder("Type your question here")
        box.fill(question)
        box.press("Enter")
        page.get_by_text("Sources", exact=True).wait_for()
        return page.locator("[data-testid='stChatMessage']").last.inner_text()
    finally:
        page.close()


def test_editor_upload_save_reindex_and_publish(app_url, browser, tmp_path):
    page = open_page(browser, f"{app_url}/editor", DESKTOP)
    try:
        page.get_by_label("Editor password").fill(EDITOR_PASSWORD)
        page.get_by_role("button", name="Unlock the Editor").click()
        page.get_by_text("Add or edit a document").wait_for()
        assert_accessible(page, "the unlocked Editor")
        upload = tmp_path / "Kite flying.html"
        upload.write_text(KITES_HTML, encoding="utf-8")
        page.locator("input[type='file']").set_input_files(str(upload))
        draft = page.get_by_label("Markdown with front matter (review before saving)")
        draft.wait_for()
        text = draft.input_value()
        assert "## Who checks the kite lines?" in text
        draft.fill(text.replace("REPLACE-WITH-THE-PUBLIC-WEB-ADDRESS-THIS-IS-BASED-ON", "https://example.org/kites"))
        draft.blur()  # Streamlit keeps a text area's value when it loses focus
        page.wait_for_timeout(2000)
        page.get_by_role("link", name="Ask", exact=True).click()  # leave the page with the draft unsaved, then come back
        page.get_by_text("Ask about the procedures").first.wait_for()
        page.get_by_role("link", name="Editor", exact=True).click()
        draft = page.get_by_label("Markdown with front matter (review before saving)")
        draft.wait_for()
        assert "https://example.org/kites" in draft.input_value(), "the unsaved draft is still there after visiting another page"
        page.get_by_role("button", name="Save to the corpus").click()
        page.get_by_text("Saved kite-flying.md").wait_for()
        page.get_by_role("button", name="Re-index now").click()
        page.get_by_text("is ready but not published").wait_for()
        page.get_by_text("Kite flying at youth clubs: new document").wait_for()  # the report beside Publish
        assert KITES_ANSWER not in ask_in_new_page(browser, app_url, KITES_QUESTION), "a staged version answers nothing"
        screenshot(page, "editor-unlocked")
        page.set_viewport_size(PHONE)
        screenshot(page, "editor-unlocked")
        page.set_viewport_size(DESKTOP)
        page.get_by_role("button", name="Publish", exact=True).click()
        page.get_by_text("Published: answers now come from this version").wait_for()
        assert KITES_ANSWER in ask_in_new_page(browser, app_url, KITES_QUESTION), "the published version answers"
    finally:
        page.close()
