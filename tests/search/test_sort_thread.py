"""SORT and THREAD on hand-made messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postillion.imap.protocol.commands import Sort, SortCriterion, Thread
from postillion.imap.search import SearchCache, UnknownThreadAlgorithm, sort, thread
from tests.message.imap_render import threads as render

from .helpers import FakeMessage, folder, message, parse_command, seqs

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def mailbox() -> list[FakeMessage]:
    views = folder(
        message({"From": "Zed <zed@x>", "To": "bob@y", "Subject": "Re: beta",
                 "Date": "Wed, 1 May 2024 10:00:00 +0000"}, "1\n"),
        message({"From": "amy@x", "To": "Carl <carl@y>", "Cc": "b@z", "Subject": "alpha",
                 "Date": "Wed, 1 May 2024 09:00:00 +0000"}, "22222\n"),
        message({"From": "\"Bea\" <BEA@x>", "Subject": "[list] Beta (fwd)",
                 "Date": "Wed, 1 May 2024 11:00:00 +0200"}, "333\n"),   # 09:00 UTC
        message({"Subject": "ALPHA", "Date": "garbage"}, "4444444444\n"),  # internal date
        message({"From": "amy@x", "To": "amy@y", "Subject": "Fwd: gamma",
                 "Date": "Wed, 1 May 2024 08:00:00 +0000"}, ""),
    )
    for i, view in enumerate(views):
        view.internaldate = DAY + timedelta(hours=5 - i)
    return views


def run_sort(line: str, views: list[FakeMessage], cache: SearchCache | None = None) -> list[int]:
    command = parse_command(b"t " + line.encode())
    assert isinstance(command, Sort)
    return seqs(sort(command.criteria, command.keys, views, charset=command.charset,
                     cache=cache))


@pytest.mark.parametrize(("line", "expected"), [
    ("SORT (ARRIVAL) UTF-8 ALL", [5, 4, 3, 2, 1]),
    ("SORT (REVERSE ARRIVAL) UTF-8 ALL", [1, 2, 3, 4, 5]),
    # Base subjects: alpha, alpha, beta, beta, gamma; ties by sequence number.
    ("SORT (SUBJECT) UTF-8 ALL", [2, 4, 1, 3, 5]),
    ("SORT (REVERSE SUBJECT) UTF-8 ALL", [5, 1, 3, 2, 4]),
    # Sent dates: 1 10:00, 2 09:00, 3 09:00 (+0200), 4 internal 02:00, 5 08:00.
    ("SORT (DATE) UTF-8 ALL", [4, 5, 2, 3, 1]),
    ("SORT (REVERSE DATE) UTF-8 ALL", [1, 2, 3, 5, 4]),
    # First From: local part, upper-cased: "" (none), AMY, AMY, BEA, ZED.
    ("SORT (FROM) UTF-8 ALL", [4, 2, 5, 3, 1]),
    ("SORT (FROM REVERSE DATE) UTF-8 ALL", [4, 2, 5, 3, 1]),
    ("SORT (FROM DATE) UTF-8 ALL", [4, 5, 2, 3, 1]),
    ("SORT (TO) UTF-8 ALL", [3, 4, 5, 1, 2]),
    ("SORT (CC) UTF-8 ALL", [1, 3, 4, 5, 2]),
    ("SORT (SUBJECT REVERSE ARRIVAL) UTF-8 ALL", [2, 4, 1, 3, 5]),
    ("SORT (SUBJECT ARRIVAL) UTF-8 ALL", [4, 2, 3, 1, 5]),
    ("SORT (DISPLAYFROM) UTF-8 ALL", [4, 2, 5, 3, 1]),
    ("SORT (SUBJECT) UTF-8 NOT FROM amy", [4, 1, 3]),
    ("SORT (DATE) UTF-8 2:3", [2, 3]),
])
def test_sort(line: str, expected: list[int]) -> None:
    assert run_sort(line, mailbox()) == expected


def test_sort_size_is_rfc822_size_ties_by_sequence() -> None:
    views = folder(message(body="aa\n"), message(body="a\n"), message(body="a\r\n"),
                   message(body="b\n"))
    # CRLF view: "a\n" and "a\r\n" are both 3 octets.
    assert [v.size for v in views] == [8, 7, 7, 7]
    assert run_sort("SORT (SIZE) UTF-8 ALL", views) == [2, 3, 4, 1]
    assert run_sort("SORT (REVERSE SIZE) UTF-8 ALL", views) == [1, 2, 3, 4]


def test_sort_keys_come_from_the_cache_the_second_time() -> None:
    views, cache = mailbox(), SearchCache()
    first = run_sort("SORT (SUBJECT DATE FROM) UTF-8 ALL", views, cache)
    assert [v.header_reads for v in views] == [1] * 5
    assert run_sort("SORT (SUBJECT DATE FROM) UTF-8 ALL", views, cache) == first
    assert [v.header_reads for v in views] == [1] * 5


def test_sort_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError):
        sort([SortCriterion("COLOUR")], (), mailbox())


def thread_of(line: str, views: list[FakeMessage], **kwargs: object) -> str:
    command = parse_command(b"t " + line.encode())
    assert isinstance(command, Thread)
    return render(thread(command.algorithm, command.keys, views, charset=command.charset,
                         uid=command.uid, **kwargs))  # type: ignore[arg-type]


def threaded() -> list[FakeMessage]:
    views = folder(
        message({"Message-ID": "<a@x>", "Subject": "topic", "Date": "1 May 2024 08:00 +0000"}),
        message({"Message-ID": "<b@x>", "References": "<a@x>", "Subject": "Re: topic",
                 "Date": "1 May 2024 09:00 +0000"}),
        message({"Message-ID": "<c@x>", "Subject": "other", "Date": "1 May 2024 07:00 +0000"}),
        message({"Message-ID": "<d@x>", "In-Reply-To": "<b@x>", "Subject": "Re: topic",
                 "Date": "1 May 2024 10:00 +0000"}),
        message({"Message-ID": "<e@x>", "Subject": "Re: topic", "References": "<a@x>",
                 "Date": "1 May 2024 11:00 +0000"}),
    )
    return views


def test_thread_references() -> None:
    assert thread_of("THREAD REFERENCES UTF-8 ALL", threaded()) == "(3)(1 (2 4)(5))"


def test_uid_thread_gives_uids() -> None:
    # folder() numbers UIDs 1, 3, 5, 7, 9.
    assert thread_of("UID THREAD REFERENCES UTF-8 ALL", threaded()) == "(5)(1 (3 7)(9))"


def test_thread_over_a_search_result() -> None:
    # Without 2, 4's parent <b@x> is a dummy; it joins 1 by subject (a reply).
    assert thread_of("THREAD REFERENCES UTF-8 NOT 2", threaded()) == "(3)(1 (4)(5))"


def test_thread_orderedsubject_shapes() -> None:
    views = threaded()
    assert thread_of("THREAD ORDEREDSUBJECT UTF-8 ALL", views) == "(3)(1 (2)(4)(5))"
    assert thread_of("THREAD ORDEREDSUBJECT UTF-8 ALL", views,
                     orderedsubject_as_chain=True) == "(3)(1 2 4 5)"


def test_thread_unknown_algorithm() -> None:
    with pytest.raises(UnknownThreadAlgorithm):
        thread("JWZ", (), threaded())


def test_empty_folder() -> None:
    assert thread("REFERENCES", (), []) == []
    assert sort([SortCriterion("DATE")], (), []) == []
