"""What every tool shares: stopping with Courier's exit code, writing raw bytes."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing costs deliverquota milliseconds at start-up
    from typing import TextIO


class ToolExit(Exception):
    """Stop a tool with an exit code and the messages Courier's tool prints."""

    def __init__(self, code: int, stderr: str = "", stdout: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.stderr = stderr
        self.stdout = stdout


def write_raw(stream: TextIO, text: str) -> None:
    """Write ``text`` with any undecodable bytes (surrogate escapes) as they came.

    Folder names, identifiers and keywords may hold any byte; a tool prints
    them back unchanged, as Courier's C tools do.
    """
    if not text:
        return
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text-only stream, such as a test's capture
        stream.write(text)
        return
    stream.flush()
    buffer.write(text.encode("utf-8", "surrogateescape"))
    buffer.flush()
