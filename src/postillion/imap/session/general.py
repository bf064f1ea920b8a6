"""Commands of any state: CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE."""

from __future__ import annotations

from typing import TYPE_CHECKING

import postillion
from postillion.imap.protocol import commands
from postillion.imap.protocol import responses as r

from .core import SessionEnd

if TYPE_CHECKING:
    from .core import Handler, Session

SERVER_NAME = "Postillion"


async def capability(session: Session, cmd: commands.Capability) -> r.TaggedResponse:
    await session.send(r.CapabilityData(session.capabilities()))
    return r.TaggedResponse(cmd.tag, "OK", "CAPABILITY completed")


async def noop(session: Session, cmd: commands.Noop) -> r.TaggedResponse:
    # The owed responses follow from the end-of-command sync.
    return r.TaggedResponse(cmd.tag, "OK", "NOOP completed")


async def logout(session: Session, cmd: commands.Logout) -> r.TaggedResponse | None:
    await session.send(r.UntaggedStatus("BYE", f"{SERVER_NAME} server shutting down"),
                       r.TaggedResponse(cmd.tag, "OK", "LOGOUT completed"))
    raise SessionEnd


async def id_command(session: Session, cmd: commands.Id) -> r.TaggedResponse:
    version = getattr(postillion, "__version__", None)
    params: tuple[tuple[bytes | str, bytes | str | None], ...] = (("name", SERVER_NAME),)
    if version:
        params += (("version", str(version)),)
    await session.send(r.IdData(params))
    return r.TaggedResponse(cmd.tag, "OK", "ID completed")


async def enable(session: Session, cmd: commands.Enable) -> r.TaggedResponse:
    newly: list[str] = []
    for name in cmd.capabilities:
        if name == "UTF8=ACCEPT" and name not in session.enabled:
            session.enabled.add(name)
            session.conn.utf8 = True
            newly.append(name)
    await session.send(r.EnabledData(tuple(newly)))
    return r.TaggedResponse(cmd.tag, "OK", "Options enabled")


async def namespace(session: Session, cmd: commands.Namespace) -> r.TaggedResponse:
    await session.send(r.NamespaceData((("INBOX.", "."),), None,
                                       (("#shared.", "."), ("shared.", "."))))
    return r.TaggedResponse(cmd.tag, "OK", "NAMESPACE completed.")


HANDLERS: dict[type, Handler] = {
    commands.Capability: capability,
    commands.Noop: noop,
    commands.Logout: logout,
    commands.Id: id_command,
    commands.Enable: enable,
    commands.Namespace: namespace,
}
