"""User-facing errors: the drivers print them as one line and exit with status 2."""


class LerganError(Exception):
    """Bad input of any kind: the message is the whole one-line diagnostic."""


class SourceError(LerganError):
    """An error that points at a place in a source file."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path, self.line, self.column = path, line, column
