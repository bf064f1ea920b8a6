"""A small IMAP driver over a child process's pipes.

It sends one command at a time, waits for the `+` continuation before each
synchronizing literal (Courier has no LITERAL+), reads until the command's
tagged response, and records every response line.  Literals in responses are
read by their announced length, so an 8-bit or CRLF-holding BODY[] never
confuses the line splitting.  Every wait is bounded by a deadline; a server
that stops answering ends the transcript instead of hanging the test.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n$")
PLACEHOLDER = "{LIT}"


@dataclass(frozen=True)
class Step:
    """One command of the script.  ``command`` is the text after the tag; each
    ``{LIT}`` in it stands for the next of ``literals``, sent as a synchronizing
    literal.  ``continuation`` is sent after the server's first ``+`` that is not
    for a literal (IDLE's ``DONE``).  ``before`` changes the maildir first, as
    another process would (it gets the server's working directory).  ``name``
    replaces the command text as the step's key in the test's tables."""

    command: str
    literals: tuple[bytes, ...] = ()
    continuation: str | None = None
    before: Callable[[Path], None] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.command.count(PLACEHOLDER) != len(self.literals):
            raise ValueError(f"literal count does not match placeholders: {self.command!r}")

    def chunks(self, tag: str) -> list[bytes]:
        """The wire pieces; every piece but the last ends with ``{n}\\r\\n``."""
        parts = self.command.split(PLACEHOLDER)
        pieces: list[bytes] = []
        current = f"{tag} {parts[0]}".encode()
        for literal, after in zip(self.literals, parts[1:], strict=True):
            pieces.append(current + b"{%d}\r\n" % len(literal))
            current = literal + after.encode()
        pieces.append(current + b"\r\n")
        return pieces


@dataclass
class Exchange:
    """What one command got: response lines (literal data inline, CRLF removed
    from the line ends), and why it stopped early, if it did."""

    tag: str
    lines: list[bytes] = field(default_factory=list)
    problem: str = ""
    seconds: float = 0.0            # for finding slow commands by hand; never asserted


class ServerGone(Exception):
    """The server closed its output or did not answer in time."""


class PipeImapClient:
    """One IMAP server child on stdin/stdout."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str],
                 timeout: float = 30.0) -> None:
        self.timeout = timeout
        # stderr goes to a file: a chatty server must never block on a full pipe.
        self.stderr_path = cwd / "imapd.stderr"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(list(argv), cwd=cwd, env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=stderr)
        assert self.process.stdout is not None and self.process.stdin is not None
        self._out = self.process.stdout.fileno()
        self._in = self.process.stdin
        self._buffer = b""
        self._eof = False

    # -- reading -----------------------------------------------------------------
    def _fill(self) -> None:
        ready, _, _ = select.select([self._out], [], [], self.timeout)
        if not ready:
            raise ServerGone(f"no output for {self.timeout} s")
        data = os.read(self._out, 65536)
        if not data:
            self._eof = True
            raise ServerGone("server closed its output")
        self._buffer += data

    def read_line(self) -> bytes:
        """One logical response line: a text line plus any literals it announces,
        with the literal data inline (``{n}\\r\\n`` kept before it)."""
        line = b""
        while True:
            while b"\r\n" not in self._buffer:
                if self._eof:
                    raise ServerGone("server closed its output")
                self._fill()
            end = self._buffer.index(b"\r\n") + 2
            piece, self._buffer = self._buffer[:end], self._buffer[end:]
            line += piece
            literal = LITERAL_AT_END.search(piece)
            if not literal:
                return line[:-2]
            size = int(literal.group(1))
            while len(self._buffer) < size:
                if self._eof:
                    raise ServerGone("server closed its output inside a literal")
                self._fill()
            line += self._buffer[:size]
            self._buffer = self._buffer[size:]

    def greeting(self) -> Exchange:
        exchange = Exchange("*")
        try:
            exchange.lines.append(self.read_line())
        except ServerGone as gone:
            exchange.problem = str(gone)
        return exchange

    # -- one command -------------------------------------------------------------
    def run(self, tag: str, step: Step) -> Exchange:
        exchange = Exchange(tag)
        tagged = (tag + " ").encode()
        pieces = step.chunks(tag)
        continuation = step.continuation
        try:
            self._send(pieces.pop(0))
            while True:
                line = self.read_line()
                exchange.lines.append(line)
                if line.startswith(tagged):
                    if pieces:
                        exchange.problem = "literal refused"
                    return exchange
                if line.startswith(b"+"):
                    if pieces:
                        self._send(pieces.pop(0))
                    elif continuation is not None:
                        self._send(continuation.encode() + b"\r\n")
                        continuation = None
        except ServerGone as gone:
            exchange.problem = str(gone)
            return exchange

    def _send(self, data: bytes) -> None:
        try:
            self._in.write(data)
            self._in.flush()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise ServerGone(f"server closed its input: {error}") from error

    def close(self) -> int:
        """End the child (it should have gone after LOGOUT); its exit code."""
        try:
            self._in.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.process.returncode


def run_script(argv: Sequence[str], cwd: Path, env: dict[str, str],
               steps: Sequence[Step], timeout: float = 30.0) -> list[Exchange]:
    """The greeting, then one exchange per step (tags ``t0001``...).  After a
    server stops answering the remaining steps get an empty exchange with the
    problem recorded."""
    client = PipeImapClient(argv, cwd, env, timeout)
    exchanges = [client.greeting()]
    gone = exchanges[0].problem
    try:
        for number, step in enumerate(steps, 1):
            tag = f"t{number:04d}"
            if gone:
                exchanges.append(Exchange(tag, problem="not sent: " + gone))
                continue
            if step.before is not None:
                step.before(cwd)
            started = time.monotonic()
            exchange = client.run(tag, step)
            exchange.seconds = time.monotonic() - started
            exchanges.append(exchange)
            if exchange.problem and exchange.problem != "literal refused":
                gone = exchange.problem
    finally:
        client.close()
    return exchanges
