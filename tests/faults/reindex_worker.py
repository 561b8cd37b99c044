"""A re-index for the kill tests: loads the model, says "ready", waits for a line on stdin, then
re-indexes the corpus of KB_CORPUS_DIR into KB_DATA_DIR, printing each progress step (seconds
since the start, stage, done, total) so the test can kill it at a chosen point."""

from __future__ import annotations

import sys
import time

import kb  # noqa: F401  (offline defaults first)
from kb.config import Settings
from kb.index.indexer import Indexer


def main() -> None:
    indexer = Indexer(Settings.from_env())
    indexer.embedder  # noqa: B018  (load the model before the clock starts)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        print(f"{time.perf_counter() - started:.4f} {stage} {done} {total}", flush=True)

    report = indexer.run(progress=progress)
    print(f"{time.perf_counter() - started:.4f} finished {report.generation}", flush=True)


if __name__ == "__main__":
    main()
