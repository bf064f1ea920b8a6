"""SEARCH, SORT and THREAD (and UID forms): the session's side of
:mod:`postillion.imap.search` -- a MessageView over the selected mailbox,
the engine run in a worker thread, one SearchCache per selected folder."""

from __future__ import annotations

import datetime
import functools
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from postillion.imap import savedorders, searchwork, workers
from postillion.imap import search as engine
from postillion.imap.filesearch import Candidate
from postillion.imap.protocol import commands
from postillion.imap.protocol import responses as r
from postillion.imap.selected import MessageEntry, SelectedMailbox
from postillion.message.headers import read_header_block
from postillion.message.threads import ThreadNode

from .errors import CommandFailed

if TYPE_CHECKING:
    from .core import Handler, Session

A = TypeVar("A")   # a decoded saved answer
R = TypeVar("R")   # what SORT or THREAD computes

class SelectedMessageView:
    """One message of the selected mailbox for the search engine."""

    __slots__ = ("cache_key", "entry", "mailbox", "seq")

    def __init__(self, mailbox: SelectedMailbox, seq: int, entry: MessageEntry) -> None:
        self.mailbox = mailbox
        self.seq = seq
        self.entry = entry
        self.cache_key = (entry.uid, entry.base)

    @property
    def uid(self) -> int:
        return self.entry.uid

    @property
    def flags(self) -> frozenset[str]:
        return self.mailbox.all_flags(self.entry)

    @property
    def size(self) -> int:
        return self.mailbox.size(self.entry)

    @property
    def internaldate(self) -> datetime.datetime:
        return self.mailbox.internaldate(self.entry)

    @property
    def filename(self) -> str:
        return self.entry.base

    def header_bytes(self) -> bytes:
        # Opened through the mailbox: it follows a rename by another
        # process, and the file's cache record is made or checked, so the
        # facets computed from these bytes are saved with the folder cache
        # (no record, nothing saved: a header-only search would start from
        # nothing in every new process).
        stream, _record = self.mailbox.open_file(self.entry)
        with stream:
            return read_header_block(stream)

    def full_bytes(self) -> bytes:
        return self.mailbox.read(self.entry)


def _views(selected: SelectedMailbox) -> list[SelectedMessageView]:
    ghosts = selected.ghosts
    if not ghosts:  # (the usual case, made by map: 100,000 views a SEARCH)
        return list(map(SelectedMessageView, itertools.repeat(selected), itertools.count(1),
                        selected.messages))
    return [SelectedMessageView(selected, seq, entry)
            for seq, entry in enumerate(selected.messages, 1) if entry.uid not in ghosts]


def _cache(selected: SelectedMailbox) -> engine.SearchCache:
    """The folder's search cache, shared by every session of the process
    that has the folder open and saved with the folder cache."""
    return selected.cache.search


def _note_computed(selected: SelectedMailbox) -> None:
    """New facets are saved with the folder cache when due; a command that
    only used cached ones changes nothing to save."""
    computed = selected.cache.search.take_computed()
    if computed:
        selected.cache.changed(computed)


def _selected(session: Session) -> SelectedMailbox:
    assert session.selected is not None
    return session.selected


def _bad_charset(exc: engine.BadCharset) -> CommandFailed:
    return CommandFailed(f"Unsupported charset {exc.charset}.", r.BadCharset(exc.supported))


async def _search_in_workers(session: Session, selected: SelectedMailbox,
                             views: list[SelectedMessageView],
                             cmd: commands.Search) -> list[SelectedMessageView] | None:
    """A program that reads message text, over a big folder, searched by
    the worker processes (see :mod:`postillion.imap.searchwork`); None
    when that does not apply."""
    if len(views) < searchwork.MIN_MESSAGES or workers.count() == 0:
        return None
    question = searchwork.question(cmd.keys, max_seq=len(selected.messages),
                                   max_uid=selected.max_uid,
                                   saved_uids=session.saved_search, charset=cmd.charset)
    if not searchwork.reads_content(question):
        return None
    candidates = await session.offload(
        lambda: [Candidate(v.seq, v.uid, selected.all_flags(v.entry),
                                      selected.path_of(v.entry)) for v in views])
    result = await searchwork.search(question, candidates)
    if result is None:
        return None
    matched, failed = result
    if failed:  # renamed or gone meanwhile: the session follows renames
        again = [views[i] for i in failed]
        found_again = await session.offload(
            lambda: engine.search(cmd.keys, again, charset=cmd.charset,
                                  max_seq=len(selected.messages), max_uid=selected.max_uid,
                                  cache=_cache(selected), saved_uids=session.saved_search))
        back = {id(view): index for view, index in zip(again, failed, strict=True)}
        matched = sorted({*matched, *(back[id(view)] for view in found_again)})
    return [views[i] for i in matched]


async def _facets_in_workers(session: Session, selected: SelectedMailbox,
                             views: list[SelectedMessageView],
                             wanted: list[engine.Facet[object]]) -> None:
    """The header values (facets) a command reads, computed by the worker
    processes when many messages lack them (see
    :mod:`postillion.imap.searchwork`); the engine then finds them cached."""
    if not wanted or len(views) < searchwork.MIN_MESSAGES or workers.count() == 0:
        return
    cache = _cache(selected)

    def plan() -> tuple[list[int], list[tuple[int, str]]] | None:
        todo = searchwork.missing_facets(cache, wanted, [v.cache_key for v in views])
        if len(todo) < searchwork.MIN_MESSAGES:
            return None
        return todo, [(views[i].uid, selected.path_of(views[i].entry)) for i in todo]

    planned = await session.offload(plan)
    if planned is None:
        return
    todo, items = planned
    results = await searchwork.facets([f.key for f in wanted], items)
    if results is None:
        return

    def keep() -> None:
        columns = [cache.column(f.key) for f in wanted]
        learned = 0
        for i, found in zip(todo, results, strict=True):
            if found is None:
                continue  # the engine reads it, following a rename
            view = views[i]
            # A record for the file: facets are saved for messages with one.
            selected.cache.learned(view.entry.base, found.file_size, found.mtime_ns,
                                   found.inode)
            for column, value in zip(columns, found.values, strict=True):
                column.setdefault(view.cache_key, value)
            learned += 1
        cache.note_computed(learned)

    await session.offload(keep)


async def search(session: Session, cmd: commands.Search) -> r.TaggedResponse:
    selected = _selected(session)
    views = await session.offload(_views, selected)  # 100,000 objects: not on the loop
    try:
        found = await _search_in_workers(session, selected, views, cmd)
        if found is None:
            await _facets_in_workers(session, selected, views,
                                     engine.search_facets(cmd.keys, cmd.charset))
            found = await session.offload(
                lambda: engine.search(cmd.keys, views, charset=cmd.charset,
                                      max_seq=len(selected.messages), max_uid=selected.max_uid,
                                      cache=_cache(selected), saved_uids=session.saved_search))
    except engine.BadCharset as exc:
        raise _bad_charset(exc) from exc
    _note_computed(selected)
    numbers = tuple(v.uid if cmd.uid else v.seq for v in found)
    await session.send(r.SearchData(numbers))
    return r.TaggedResponse(cmd.tag, "OK", "SEARCH done.")


async def _over_folder(session: Session, selected: SelectedMailbox,
                       wanted: list[engine.Facet[object]], compute: Callable[..., R]) -> R:
    """SORT's or THREAD's ``compute(views, max_seq=..., ...)`` over the
    whole folder, in a thread, once the worker processes have computed the
    header values it reads that the cache lacks."""
    views = await session.offload(_views, selected)  # 100,000 objects: not on the loop
    await _facets_in_workers(session, selected, views, wanted)
    return await session.offload(
        compute, views, max_seq=len(selected.messages), max_uid=selected.max_uid,
        cache=_cache(selected), saved_uids=session.saved_search)


def _thread_sort_allowed(session: Session) -> None:
    if session.ctx.config.get_bool("IMAP_DISABLETHREADSORT"):
        raise CommandFailed("THREAD and SORT are disabled on this server.", r.CANNOT)


class _WholeFolder:
    """A SORT or THREAD over every message of the session's view (program
    ``ALL``, no ghost): its answer may be saved and given again (see
    :mod:`postillion.imap.savedorders`)."""

    def __init__(self, selected: SelectedMailbox, key: str) -> None:
        self.cache = selected.cache
        self.key = key
        self.uids = [m.uid for m in selected.messages]
        self.digest = savedorders.set_digest(self.uids)

    def saved(self) -> bytes | None:
        return self.cache.saved_order(self.key, self.digest)

    def keep(self, data: bytes) -> None:
        self.cache.keep_order(self.key, self.digest, data)

    def numbers(self, uid: bool) -> list[int]:
        """The answer's number of each position: UID or sequence number."""
        return self.uids if uid else list(range(1, len(self.uids) + 1))


def _saved_answer(selected: SelectedMailbox, keys: tuple[object, ...], key: str | None,
                  decode: Callable[[bytes, _WholeFolder], A | None]
                  ) -> tuple[_WholeFolder | None, A | None]:
    """For a SORT or THREAD whose answer may be saved (``key``: its cache
    key, None when not kept): the folder as it is, and the saved answer
    decoded, if there is a usable one."""
    if key is None or selected.ghosts or not savedorders.is_whole_folder(keys):
        return None, None
    whole = _WholeFolder(selected, key)
    data = whole.saved()
    return whole, None if data is None else decode(data, whole)


def _sort_answer(data: bytes, whole: _WholeFolder, uid: bool) -> list[int] | None:
    positions = savedorders.decode_sort(data, len(whole.uids))
    if positions is None:
        return None
    numbers = whole.numbers(uid)
    return [numbers[p] for p in positions]


def _saved_sort(selected: SelectedMailbox, cmd: commands.Sort
                ) -> tuple[_WholeFolder | None, list[int] | None]:
    return _saved_answer(selected, cmd.keys, savedorders.sort_key(cmd.criteria),
                         lambda data, whole: _sort_answer(data, whole, cmd.uid))


async def sort(session: Session, cmd: commands.Sort) -> r.TaggedResponse:
    _thread_sort_allowed(session)
    selected = _selected(session)
    try:
        wanted = engine.sort_facets(cmd.criteria, cmd.keys, cmd.charset)
        whole, answer = await session.offload(_saved_sort, selected, cmd)
        if answer is None:
            found = await _over_folder(session, selected, wanted, functools.partial(
                engine.sort, cmd.criteria, cmd.keys, charset=cmd.charset))
            answer = [v.uid if cmd.uid else v.seq for v in found]
            if whole is not None:  # no ghost: a message's position is its seq - 1
                whole.keep(savedorders.encode_sort([v.seq - 1 for v in found]))
    except engine.BadCharset as exc:
        raise _bad_charset(exc) from exc
    except ValueError as exc:
        raise CommandFailed(str(exc), r.CLIENTBUG) from exc
    _note_computed(selected)
    await session.send(r.SortData(tuple(answer)))
    return r.TaggedResponse(cmd.tag, "OK", "SORT done.")


def _saved_thread(selected: SelectedMailbox, cmd: commands.Thread
                  ) -> tuple[_WholeFolder | None, list[ThreadNode] | None]:
    return _saved_answer(selected, cmd.keys, savedorders.thread_key(cmd.algorithm),
                         lambda data, whole: savedorders.decode_forest(data,
                                                                       whole.numbers(cmd.uid)))


def _keep_thread(whole: _WholeFolder, forest: list[ThreadNode], uid: bool) -> None:
    if uid:
        position_of = {u: i for i, u in enumerate(whole.uids)}.__getitem__
    else:  # no ghost: a message's position is its seq - 1
        def position_of(seq: int) -> int:
            return seq - 1
    whole.keep(savedorders.encode_forest(forest, position_of))


async def thread(session: Session, cmd: commands.Thread) -> r.TaggedResponse:
    _thread_sort_allowed(session)
    if not session.has_capability("THREAD=" + cmd.algorithm):
        raise CommandFailed(f"Unknown THREAD algorithm {cmd.algorithm}.", r.CLIENTBUG)
    selected = _selected(session)
    try:
        wanted = engine.thread_facets(cmd.keys, cmd.charset)
        whole, forest = await session.offload(_saved_thread, selected, cmd)
        if forest is None:
            forest = await _over_folder(session, selected, wanted, functools.partial(
                engine.thread, cmd.algorithm, cmd.keys, charset=cmd.charset, uid=cmd.uid,
                orderedsubject_as_chain=True))
            if whole is not None:
                await session.offload(_keep_thread, whole, forest, cmd.uid)
    except engine.BadCharset as exc:
        raise _bad_charset(exc) from exc
    except engine.UnknownThreadAlgorithm as exc:
        raise CommandFailed(f"Unknown THREAD algorithm {cmd.algorithm}.", r.CLIENTBUG) from exc
    _note_computed(selected)
    await session.send(r.ThreadData(tuple(forest)))
    return r.TaggedResponse(cmd.tag, "OK", "THREAD done.")


HANDLERS: dict[type, Handler] = {
    commands.Search: search,
    commands.Sort: sort,
    commands.Thread: thread,
}
