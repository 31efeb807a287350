"""Errors Manba raises; each message says what to do next. Only cli.py and app.py print them."""

from __future__ import annotations


class ManbaError(Exception):
    """Base of every error Manba raises on purpose."""


class IngestError(ManbaError):
    """One input (a file, or a line of a JSONL file) could not be read; the batch goes on."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[type[IngestError], tuple[str, str, int | None]]:
        # Raised in ingest's worker processes and sent back: pickle by fields.
        return (IngestError, (self.path, self.reason, self.line))


class IndexNotFoundError(ManbaError):
    """No index exists at the given folder."""


class EmptyIndexError(ManbaError):
    """The index exists but holds no passages."""


class IndexDamagedError(ManbaError):
    """The index folder exists but its store cannot be read."""


class StaleIndexError(ManbaError):
    """The index was built by a version of Manba whose analysis differs from this one."""


class IndexBusyError(ManbaError):
    """Another process is writing the index."""


class EmptyQuestionError(ManbaError):
    """The question has no searchable words."""


class ConfigError(ManbaError):
    """A setting has a value Manba cannot use."""


class ModelError(ManbaError):
    """The connected model could not be reached or gave an unusable reply."""


class VectorStoreError(ManbaError):
    """The Chroma server holding the index's vectors cannot be reached or refused a request."""
