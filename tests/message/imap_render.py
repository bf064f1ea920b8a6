"""Render our typed ENVELOPE / BODYSTRUCTURE values as IMAP text, for tests.

The project's real serializer lives in the IMAP layer; this small one only
exists so that tests can compare with Courier's output line by line.
"""

from __future__ import annotations

from postillion.message import Address, Envelope, MultiPartBody, SinglePartBody
from postillion.message.bodystructure import BodyStructure, Disposition, Params
from postillion.message.threads import ThreadNode


def nstring(value: bytes | None) -> str:
    if value is None:
        return "NIL"
    text = value.decode("utf-8", "surrogateescape")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def addresses(values: tuple[Address, ...]) -> str:
    if not values:
        return "NIL"
    return "(" + "".join(
        f"({nstring(a.name)} {nstring(a.adl)} {nstring(a.mailbox)} {nstring(a.host)})"
        for a in values) + ")"


def envelope(env: Envelope) -> str:
    return "(" + " ".join([
        nstring(env.date), nstring(env.subject), addresses(env.from_), addresses(env.sender),
        addresses(env.reply_to), addresses(env.to), addresses(env.cc), addresses(env.bcc),
        nstring(env.in_reply_to), nstring(env.message_id)]) + ")"


def params(values: Params) -> str:
    if not values:
        return "NIL"
    return "(" + " ".join(f"{nstring(k)} {nstring(v)}" for k, v in values) + ")"


def disposition(value: Disposition | None) -> str:
    return "NIL" if value is None else f"({nstring(value.type)} {params(value.params)})"


def language(value: tuple[bytes, ...] | None) -> str:
    if value is None:
        return "NIL"
    if len(value) == 1:
        return nstring(value[0])
    return "(" + " ".join(nstring(v) for v in value) + ")"


def body(value: BodyStructure, extended: bool = True, courier: bool = False) -> str:
    """BODYSTRUCTURE (``extended``) or BODY.  ``courier`` renders the
    extension data the way Courier does (no language, no location)."""
    if isinstance(value, MultiPartBody):
        out = "(" + "".join(body(p, extended, courier) for p in value.parts)
        out += " " + nstring(value.subtype)
        if extended:
            out += f" {params(value.params)} {disposition(value.disposition)}"
            out += " NIL" if courier else f" {language(value.language)} {nstring(value.location)}"
        return out + ")"
    assert isinstance(value, SinglePartBody)
    fields = [nstring(value.type), nstring(value.subtype), params(value.params),
              nstring(value.id), nstring(value.description), nstring(value.encoding),
              str(value.size)]
    if value.envelope is not None and value.body is not None:
        fields += [envelope(value.envelope), body(value.body, extended, courier)]
    if value.lines is not None:
        fields.append(str(value.lines))
    if extended:
        fields += [nstring(value.md5), disposition(value.disposition)]
        fields += ["NIL"] if courier else [language(value.language), nstring(value.location)]
    return "(" + " ".join(fields) + ")"


def threads(nodes: tuple[ThreadNode, ...] | list[ThreadNode]) -> str:
    """A THREAD response's data, e.g. ``(2)(3 6 (4 23)(44 7 96))``."""
    return "".join("(" + _thread_inner(node) + ")" for node in nodes)


def _thread_inner(node: ThreadNode) -> str:
    parts: list[str] = []
    if node.message is not None:
        parts.append(str(node.message))
    if len(node.children) == 1 and node.message is not None:
        parts.append(_thread_inner(node.children[0]))
    elif node.children:
        parts.append("".join("(" + _thread_inner(c) + ")" for c in node.children))
    return " ".join(parts)
