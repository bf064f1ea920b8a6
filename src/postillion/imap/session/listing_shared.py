"""LIST and LSUB of the ``#shared.`` namespace (what Courier 5 lists).

Only patterns that start with ``#shared`` reach it (Courier's ``LIST ""
"*"`` shows one's own folders only).  Folders on which the user holds
``l`` are listed with ``\\HasChildren``/``\\HasNoChildren`` counted among
the visible ones only; their parents (share groups, the share itself when
its INBOX is not visible, intermediate folders) as ``\\Noselect
\\HasChildren``.  LSUB shows subscribed ``#shared`` folders still visible,
with their parents ``\\Noselect`` as Courier does.  Runs in a worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from postillion.imap.mailstore import wildcard_regex
from postillion.imap.protocol import responses as r
from postillion.imap.shared import SharedFolder, is_shared_name

if TYPE_CHECKING:
    from .core import Session

_SHARED_ROOT = "#shared"


def _wanted(patterns: list[str]) -> bool:
    return any(p.startswith(_SHARED_ROOT) for p in patterns)


def _attributes(folder: SharedFolder) -> list[str]:
    attrs = [] if folder.selectable else ["\\Noselect"]
    attrs.append("\\HasChildren" if folder.has_children else "\\HasNoChildren")
    return attrs


def _visible(session: Session) -> list[SharedFolder]:
    shared = session.mail().shared
    return shared.visible() if shared is not None else []


def list_shared(session: Session, patterns: list[str], subscribed: set[str] | None,
                subscribed_only: bool) -> list[r.Response]:
    patterns = [p for p in patterns if p.startswith(_SHARED_ROOT)]
    if not _wanted(patterns):
        return []
    regexes = [wildcard_regex(p) for p in patterns]
    out: list[r.Response] = []
    for folder in sorted(_visible(session), key=lambda f: f.name):
        if not any(rx.fullmatch(folder.name) for rx in regexes):
            continue
        if subscribed_only and (subscribed is None or folder.name not in subscribed):
            continue
        attrs = _attributes(folder)
        if subscribed is not None and folder.name in subscribed:
            attrs.append("\\Subscribed")
        out.append(r.ListData(tuple(attrs), ".", session.wire(folder.name)))
    return out


def lsub_shared(session: Session, pattern: str, subscriptions: list[str]) -> list[r.Response]:
    if not pattern.startswith(_SHARED_ROOT):
        return []
    wanted = {s for s in subscriptions if is_shared_name(s)}
    if not wanted:
        return []
    regex = wildcard_regex(pattern)
    visible = {f.name: f for f in _visible(session)}
    shown: dict[str, list[str]] = {}
    for name in sorted(wanted):
        folder = visible.get(name)
        if folder is None or not folder.selectable:
            continue
        shown[name] = _attributes(folder)
        parts = name.split(".")
        for size in range(2, len(parts)):
            parent = ".".join(parts[:size])
            shown.setdefault(parent, ["\\Noselect", "\\HasChildren"])
    return [r.ListData(tuple(attrs), ".", session.wire(name), kind="LSUB")
            for name, attrs in sorted(shown.items()) if regex.fullmatch(name)]
