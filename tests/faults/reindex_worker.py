"""A re-index for the fault tests: loads the model, says "ready", waits for a line on stdin, then
re-indexes the corpus of KB_CORPUS_DIR into KB_DATA_DIR.

With no arguments it prints each progress step (seconds since the start, stage, done, total) so a
test can kill it at a chosen point. With arguments it runs them as the `kb` command line would
(`index --json`, say), so a test sees exactly what a user sees, but without the start-up delay.
"""

from __future__ import annotations

import sys
import time

import kb  # noqa: F401  (offline defaults first)
from kb.cli import main as kb_main
from kb.config import Settings
from kb.index.indexer import Indexer
from kb.index.pipelines import build_document_embedder


def main(argv: list[str]) -> None:
    settings = Settings.from_env()
    build_document_embedder(settings).warm_up()  # the model is loaded once per process and shared
    print("ready", flush=True)
    sys.stdin.readline()
    if argv:
        kb_main(argv)
        return
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        print(f"{time.perf_counter() - started:.4f} {stage} {done} {total}", flush=True)

    report = Indexer(settings).run(progress=progress)
    print(f"{time.perf_counter() - started:.4f} finished {report.generation}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
