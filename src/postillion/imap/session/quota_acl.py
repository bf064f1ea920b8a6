"""QUOTA (RFC 2087, Courier's single root "ROOT") and ACL (RFC 4314) on
one's own folders; texts as Courier's imapd answers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from postillion.imap.protocol import commands
from postillion.imap.protocol import responses as r
from postillion.maildir import acl

from . import access

if TYPE_CHECKING:
    from .core import Handler, Session

ROOT = "ROOT"


async def _quota_data(session: Session, root: str) -> r.QuotaData:
    report = await session.offload(session.mail().quota)
    return r.QuotaData(root, report.resources if root == ROOT else None)


async def getquotaroot(session: Session, cmd: commands.GetQuotaRoot) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await session.offload(session.mail().require, name)
    await session.send(r.QuotaRootData(session.wire(name), (ROOT,)),
                       await _quota_data(session, ROOT))
    return r.TaggedResponse(cmd.tag, "OK", "GETQUOTAROOT Ok.")


async def getquota(session: Session, cmd: commands.GetQuota) -> r.TaggedResponse:
    root = cmd.root.decode("utf-8", "replace")
    await session.send(await _quota_data(session, root))
    return r.TaggedResponse(cmd.tag, "OK", "GETQUOTA Ok.")


async def setquota(session: Session, cmd: commands.SetQuota) -> r.TaggedResponse:
    return r.TaggedResponse(cmd.tag, "NO", "SETQUOTA No permission.", r.NOPERM)


async def _require_admin(session: Session, name: str, command: str) -> None:
    """``a`` on the folder (checked first, as Courier does), then existence."""
    await access.require(session, name, acl.RIGHT_ADMINISTER, command)
    await session.offload(session.mail().require, name)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


async def getacl(session: Session, cmd: commands.GetAcl) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await _require_admin(session, name, "GETACL")
    current = await session.offload(session.mail().read_acl, name)
    entries = tuple((acl.disk_identifier_to_imap(e.identifier), acl.to_rfc4314(e.rights))
                    for e in current.entries)
    await session.send(r.AclData(session.wire(name), entries))
    return r.TaggedResponse(cmd.tag, "OK", "GETACL completed.")


async def setacl(session: Session, cmd: commands.SetAcl) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await _require_admin(session, name, "SETACL")
    await session.offload(session.mail().set_acl, name, _text(cmd.identifier),
                            _text(cmd.rights))
    return r.TaggedResponse(cmd.tag, "OK", "ACLs updated.")


async def deleteacl(session: Session, cmd: commands.DeleteAcl) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await _require_admin(session, name, "DELETEACL")
    await session.offload(session.mail().delete_acl, name, _text(cmd.identifier))
    return r.TaggedResponse(cmd.tag, "OK", "ACLs updated.")


async def myrights(session: Session, cmd: commands.MyRights) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    rights = await access.rights_on(session, name)
    if not any(right in rights for right in access.ANY_RIGHT):
        # Courier refuses MYRIGHTS without any right in GETACL's words.
        raise access.denied(session, "GETACL", name, acl.RIGHT_ADMINISTER, rights)
    await session.offload(session.mail().require, name)
    await session.send(r.MyRightsData(session.wire(name), acl.to_rfc4314(rights)))
    return r.TaggedResponse(cmd.tag, "OK", "MYRIGHTS completed.")


#: The rights LISTRIGHTS offers besides the required ones, in Courier's order.
_LISTED_RIGHTS = ("a", "c", "d", "i", "l", "p", "r", "s", "w")


def listed_rights(identifier: str, owner: str) -> tuple[str, tuple[str, ...]]:
    """LISTRIGHTS' required rights and optional ones, as Courier answers:
    the folder's owner always has ``al`` (it cannot lose them); ``-anyone``
    (``-anonymous``) and ``-OWNER`` cannot be given ``a`` or ``l``; anyone
    else may be given each of them."""
    if identifier in ("-anyone", "-anonymous", "-" + owner):
        return "", tuple(right for right in _LISTED_RIGHTS if right not in "al")
    if identifier == owner:
        return "al", tuple(right for right in _LISTED_RIGHTS if right not in "al")
    return "", _LISTED_RIGHTS


async def listrights(session: Session, cmd: commands.ListRights) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await _require_admin(session, name, "LISTRIGHTS")
    owner = await session.offload(lambda: session.mail().place(name).owner)
    identifier = _text(cmd.identifier)
    required, optional = listed_rights(identifier, owner)
    await session.send(r.ListRightsData(session.wire(name), identifier, required, optional))
    return r.TaggedResponse(cmd.tag, "OK", "LISTRIGHTS completed.")


HANDLERS: dict[type, Handler] = {
    commands.GetQuotaRoot: getquotaroot,
    commands.GetQuota: getquota,
    commands.SetQuota: setquota,
    commands.GetAcl: getacl,
    commands.SetAcl: setacl,
    commands.DeleteAcl: deleteacl,
    commands.MyRights: myrights,
    commands.ListRights: listrights,
}
