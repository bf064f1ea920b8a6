"""A stand-in for ``run_session`` that exercises only what the server provides.

``a LOGIN user password`` authenticates with ``ctx.auth`` and calls
``ctx.become`` as the real session does; ``WHOAMI`` reports the process's
identity; ``TOUCH`` writes a file into the account's maildir and reports its
owner.  Anything else is echoed.
"""

from __future__ import annotations

import asyncio
import os

from postillion.auth import Account
from postillion.imap.session.context import ServerContext


async def run_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      ctx: ServerContext, *, peer: str = "", tls_active: bool = False,
                      preauth: Account | None = None) -> None:
    account = preauth
    writer.write(f"* OK stand-in pid={os.getpid()} tls={int(tls_active)}\r\n".encode())
    await writer.drain()
    while line := await reader.readline():
        words = line.decode().split()
        if words[:2] == ["a", "LOGIN"] and ctx.auth is not None:
            found = ctx.auth.authenticate("imap", words[2], words[3])
            if found is None:
                writer.write(b"a NO wrong\r\n")
            else:
                try:
                    await asyncio.to_thread(ctx.become, found)
                except PermissionError as exc:
                    writer.write(f"a NO refused: {exc}\r\n".encode())
                else:
                    account = found
                    writer.write(b"a OK LOGIN done\r\n")
        elif words[1:2] == ["WHOAMI"]:
            writer.write(f"* WHOAMI uid={os.getuid()} euid={os.geteuid()} gid={os.getgid()} "
                         f"groups={','.join(map(str, os.getgroups()))}\r\n".encode())
        elif words[1:2] == ["TOUCH"] and account is not None:
            path = os.path.join(account.maildir, "tmp", "touched")
            try:
                with open(path, "w") as f:
                    f.write("x")
                st = os.stat(path)
                writer.write(f"* TOUCH owner={st.st_uid}:{st.st_gid}\r\n".encode())
            except OSError as exc:
                writer.write(f"* TOUCH failed {exc.strerror}\r\n".encode())
        else:
            writer.write(b"* ECHO " + line)
        await writer.drain()
