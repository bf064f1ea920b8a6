"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 section 3).

Input is one ``ThreadMessage`` per message (its number or UID, its
headers' ids and its sort keys); output is a list of thread trees whose
nodes carry a message number, or None for a dummy (a message that is
referenced but not in the set; the serializer shows it as a nesting level).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

_MSG_ID = re.compile(rb"<[^<>\s]*>")


class ThreadMessage(NamedTuple):
    """One message to thread (a tuple: THREAD over 100,000 messages makes
    100,000 of them, and a tuple is the cheapest immutable record)."""

    number: int                       # sequence number or UID, whichever is answered
    message_id: bytes | None          # raw Message-ID header value
    references: bytes | None          # raw References header value
    in_reply_to: bytes | None         # raw In-Reply-To header value
    base_subject: str                 # sortkeys.base_subject
    is_reply: bool                    # sortkeys.base_subject_and_reply()[1]
    sent_date: float                  # sortkeys.sent_date, as seconds since the epoch


class ThreadNode(NamedTuple):
    """A node of the answer's forest (a tuple, made once per message)."""

    message: int | None               # None: a dummy holding its children together
    children: tuple[ThreadNode, ...] = ()


def message_ids(value: bytes | None) -> list[bytes]:
    """The <msg-id>s in a header value, in order (lower-cased: ids are compared
    as Courier does, case-insensitively)."""
    if not value:
        return []
    return [m.lower() for m in _MSG_ID.findall(value) if len(m) > 2]


def _parent_ids(msg: ThreadMessage) -> list[bytes]:
    refs = message_ids(msg.references)
    if refs:
        return refs
    return message_ids(msg.in_reply_to)[:1]


def _order_key(msg: ThreadMessage, position: int) -> tuple[float, int]:
    return (msg.sent_date, position)


# ---------------------------------------------------------------- ORDEREDSUBJECT

def thread_orderedsubject(messages: Sequence[ThreadMessage], *,
                          as_chain: bool = False) -> list[ThreadNode]:
    """Group by base subject; in each group the earliest message is the
    parent of all others (in sent-date order); groups ordered by their
    first message's sent date.

    ``as_chain`` gives Courier's shape instead: each message a child of the
    one before it, so Courier renders ``(2 25 36)`` where RFC 5256's
    wording gives ``(2 (25)(36))``.  Both show one thread to a client.
    """
    order = sorted(range(len(messages)), key=lambda i: (
        messages[i].base_subject, messages[i].sent_date, i))
    groups: list[list[int]] = []
    for index in order:
        if groups and messages[groups[-1][0]].base_subject == messages[index].base_subject:
            groups[-1].append(index)
        else:
            groups.append([index])
    groups.sort(key=lambda g: (messages[g[0]].sent_date, g[0]))
    if as_chain:
        return [_chain([messages[i].number for i in g]) for g in groups]
    return [ThreadNode(messages[g[0]].number,
                       tuple(ThreadNode(messages[i].number) for i in g[1:]))
            for g in groups]


def _chain(numbers: list[int]) -> ThreadNode:
    node = ThreadNode(numbers[-1])
    for number in reversed(numbers[:-1]):
        node = ThreadNode(number, (node,))
    return node


# ---------------------------------------------------------------- REFERENCES

@dataclass(eq=False, slots=True)
class _Container:
    index: int | None = None                       # into the message list; None = dummy
    parent: _Container | None = None
    children: list[_Container] = field(default_factory=list)

    def is_ancestor_of(self, other: _Container) -> bool:
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def adopt(self, child: _Container) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def orphan(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None


def thread_references(messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """The REFERENCES algorithm of RFC 5256 section 3, steps 1 to 6."""
    id_table: dict[bytes, _Container] = {}
    all_containers: list[_Container] = []

    def container_for(msg_id: bytes) -> _Container:
        found = id_table.get(msg_id)
        if found is None:
            found = id_table[msg_id] = _Container()
            all_containers.append(found)
        return found

    # Step 1: link messages into parent/child containers.
    for index, msg in enumerate(messages):
        ids = message_ids(msg.message_id)
        own: _Container | None = None
        if ids:
            candidate = container_for(ids[0])
            if candidate.index is None:
                own = candidate
        if own is None:
            # No Message-ID, or a duplicate: this message gets its own unique id.
            own = _Container()
            all_containers.append(own)
        own.index = index
        refs = [r for r in _parent_ids(msg) if not (ids and r == ids[0])]
        previous: _Container | None = None
        for ref in refs:                                     # step 1B
            current = container_for(ref)
            if previous is not None and current.parent is None \
                    and current is not previous and not current.is_ancestor_of(previous):
                previous.adopt(current)
            previous = current
        # Step 1C: the last reference is the parent, replacing any other.
        if previous is None:
            own.orphan()
        elif previous is not own and not own.is_ancestor_of(previous) \
                and own.parent is not previous:
            previous.adopt(own)

    # Step 2: the root set; step 3 drops the id table.
    roots = [c for c in all_containers if c.parent is None]
    root = _Container()
    for container in roots:
        root.adopt(container)

    _prune(root)                                              # step 4
    _sort(root, messages)                                     # step 6 sorts first...
    _merge_subjects(root, messages)                           # step 5
    _sort(root, messages)                                     # ...and again after merging
    return [_node(c, messages) for c in root.children]


def _descendants_first(top: _Container) -> list[_Container]:
    """``top`` and every container below it, each after all of its own
    descendants (reversed pre-order): the order in which a recursive
    post-order walk finishes them, without recursion, so that a reply chain
    thousands of messages deep does not exhaust the interpreter's stack."""
    order: list[_Container] = []
    stack = [top]
    while stack:
        container = stack.pop()
        order.append(container)
        stack.extend(container.children)
    order.reverse()
    return order


def _prune(top: _Container) -> None:
    """Step 4: drop empty dummies, promote dummies' children (not to the
    root level when there are several)."""
    for container in _descendants_first(top):
        is_root = container.index is None and container.parent is None
        new_children: list[_Container] = []
        for child in container.children:
            if child.index is None and not child.children:
                child.parent = None
                continue
            if child.index is None and (not is_root or len(child.children) == 1):
                for grandchild in child.children:
                    grandchild.parent = container
                    new_children.append(grandchild)
                child.children = []
                child.parent = None
                continue
            new_children.append(child)
        container.children = new_children


def _first_message(container: _Container) -> int | None:
    """The message a (possibly dummy) container stands for: itself or its first child."""
    if container.index is not None:
        return container.index
    return container.children[0].index if container.children else None


def _merge_subjects(root: _Container, messages: Sequence[ThreadMessage]) -> None:
    """Step 5: join root-level threads that share a base subject."""
    def subject_of(container: _Container) -> str:
        index = _first_message(container)
        return messages[index].base_subject if index is not None else ""

    def is_reply(container: _Container) -> bool:
        return container.index is not None and messages[container.index].is_reply

    table: dict[str, _Container] = {}
    for container in root.children:                          # step 5B/C
        subject = subject_of(container)
        if not subject:
            continue
        old = table.get(subject)
        if old is None or (old.index is not None and container.index is None) or \
                (is_reply(old) and not is_reply(container)
                 and (container.index is None) == (old.index is None)):
            table[subject] = container
    # Step 5E.  Root-level containers leave or are replaced in ``slots``
    # (their positions by identity) rather than by list.remove/insert on
    # the root's children, which made this quadratic in the number of
    # threads; positions do not decide the answer (step 6 sorts the root).
    slots: list[_Container | None] = list(root.children)
    position = {id(c): i for i, c in enumerate(slots)}

    def leave_root(container: _Container, new_parent: _Container | None) -> None:
        slots[position[id(container)]] = None
        container.parent = new_parent
        if new_parent is not None:
            new_parent.children.append(container)

    for container in list(root.children):
        subject = subject_of(container)
        if not subject:
            continue
        other = table.get(subject)
        if other is None or other is container or container.parent is not root:
            continue
        if other.index is None and container.index is None:
            for child in container.children:
                child.parent = other
                other.children.append(child)
            container.children = []
            leave_root(container, None)
        elif other.index is None:
            leave_root(container, other)
        elif container.index is None:
            # The dummy in the table wins in step 5C, so this cannot happen;
            # kept for safety: the message goes under the dummy.
            leave_root(other, container)
            table[subject] = container
        elif is_reply(container) and not is_reply(other):
            leave_root(container, other)
        else:
            dummy = _Container(parent=root)
            at = position[id(other)]
            leave_root(other, dummy)
            leave_root(container, dummy)
            slots[at] = dummy
            position[id(dummy)] = at
            table[subject] = dummy
    root.children = [c for c in slots if c is not None]


def _sort(top: _Container, messages: Sequence[ThreadMessage]) -> None:
    """Step 6: siblings by sent date (a dummy by its first child's), then
    by the order the messages came in; a container's children are sorted
    before it is compared by its first child."""
    def key(child: _Container) -> tuple[float, int]:
        index = _first_message(child)
        assert index is not None
        return _order_key(messages[index], index)

    for container in _descendants_first(top):
        container.children.sort(key=key)


def _node(top: _Container, messages: Sequence[ThreadMessage]) -> ThreadNode:
    """The answer's tree, built from the leaves up (no recursion)."""
    built: dict[int, ThreadNode] = {}
    for container in _descendants_first(top):
        number = messages[container.index].number if container.index is not None else None
        built[id(container)] = ThreadNode(
            number, tuple(built.pop(id(child)) for child in container.children))
    return built[id(top)]


def flatten(nodes: Iterable[ThreadNode]) -> list[int]:
    """All message numbers in a thread forest (depth first), for tests."""
    out: list[int] = []
    stack = list(reversed(list(nodes)))
    while stack:
        node = stack.pop()
        if node.message is not None:
            out.append(node.message)
        stack.extend(reversed(node.children))
    return out
