"""One error hierarchy: every message names the bad value and what would have been valid."""

from __future__ import annotations

from pathlib import Path


class KBError(Exception):
    """Base class for every error the knowledge base reports to a user."""


class ConfigError(KBError):
    """A setting has a value the knowledge base cannot use."""


class DocumentError(KBError):
    """A corpus document cannot be indexed; it is reported and skipped."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.reason = reason
        self.line = line
        self.field = field
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")

    def as_dict(self) -> dict:
        return {"file": self.path, "line": self.line, "field": self.field, "reason": self.reason}


class EditorError(KBError):
    """An editor operation was refused: an unsafe name, a file too big, a type that is not accepted."""


class EditConflictError(EditorError):
    """A save was based on a version of the document that is no longer the one in the corpus.

    `theirs_version` is the history's record of who made the corpus text what it is now, and when
    (`kb.doc_history.Version`), or None when it was changed outside the Editor."""

    def __init__(self, name: str, theirs: str | None, mine: str | None, theirs_version=None):
        self.name, self.theirs, self.mine, self.theirs_version = name, theirs, mine, theirs_version
        what = "was deleted" if theirs is None else "was changed by someone else"
        super().__init__(
            f"{name} {what} after you started editing it, so nothing was saved: compare the two versions, "
            "then save yours over it or take the one in the corpus"
        )


class IndexNotReadyError(KBError):
    """There is no index generation to search yet."""


class IndexDamagedError(IndexNotReadyError):
    """The served index generation (or the pointer to it) is unreadable or damaged."""


class IndexWriteError(KBError):
    """A re-index could not write its new generation (a full disk, a read-only folder); the served one is untouched."""


class IndexBusyError(KBError):
    """Another re-index holds the index lock."""


class QuestionError(KBError):
    """A question cannot be answered as given (empty, for example)."""


class FlowError(KBError):
    """A flow definition or a step through it is invalid."""


class FlowGateError(KBError):
    """Publishing would stop serving a guided flow that is served now.

    `flows` are the flows it would stop offering, in words (`kb.review.DroppedFlow`: the title, and
    each step that stops it by its question), the same list the report beside Publish shows;
    `problems` are the flow check's own findings in those flows' files, for whoever edits them."""

    def __init__(self, generation: str, flows: list, problems: list):
        self.generation, self.flows, self.problems = generation, flows, problems
        count = f", {len(flows)} in all" if len(flows) > 1 else ""
        super().__init__(
            f"publishing {generation} would stop offering a guided flow that users have now{count}: {'; '.join(map(str, flows))}. "
            "Fix the flow's citation and re-index, or record why it should be published anyway"
        )


class StagedOutOfDateError(KBError):
    """The staged index version was built before the corpus last changed, so publishing it would serve text that is no longer in the corpus."""

    def __init__(self, generation: str, differences: list[str], files: list[str]):
        self.generation, self.differences, self.files = generation, differences, files
        super().__init__(
            f"{generation} no longer matches the corpus ({'; '.join(differences)}), so it was not published: "
            "re-index ('kb index --stage'), check the new report, then publish"
        )


class VersionGoneError(KBError):
    """The index version asked to be published is no longer waiting: published already, or replaced by a newer staged one."""

    def __init__(self, generation: str, message: str, served: str | None = None, staged: str | None = None):
        self.generation, self.served, self.staged = generation, served, staged
        super().__init__(message)
