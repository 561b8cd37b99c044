"""axe-core in the browser tests: injected by Playwright into Debian's Chromium from
tests/ui/axe/node_modules (installed from the npm registry by scripts/setup), never downloaded
by the test itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AXE_SCRIPT = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# Streamlit's own frame, not the app's content: the hidden file-drop target and the toolbar
# it draws for every app are outside what the pages write.
FRAMEWORK = ["[data-testid='stToolbar']", "[data-testid='stStatusWidget']", "iframe[title='streamlit_app']"]


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets[:4])}"


def axe_available() -> bool:
    return AXE_SCRIPT.exists()


def axe_violations(page) -> list[Violation]:
    """Every WCAG 2.2 A/AA and best-practice violation axe-core finds in the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate(
        "async ([tags, exclude]) => await axe.run({exclude: exclude.map(s => [s])}, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        [TAGS, FRAMEWORK],
    )
    return [
        Violation(v["id"], v.get("impact") or "", v["help"], tuple(" ".join(map(str, n["target"])) for n in v["nodes"]))
        for v in result["violations"]
    ]
