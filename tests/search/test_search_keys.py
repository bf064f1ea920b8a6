"""Every SEARCH key on small hand-made messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from postillion.imap.search import BadCharset, SearchCache, search

from .helpers import FakeMessage, folder, message, parse_command, seqs

SEEN, ANSWERED, FLAGGED = "\\Seen", "\\Answered", "\\Flagged"
DELETED, DRAFT, RECENT = "\\Deleted", "\\Draft", "\\Recent"

MESSAGES = [
    message({"From": '"Jürgen Müller" <jm@example.com>', "To": "alice@example.org",
             "Subject": "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Köln",
             "Date": "Sat, 9 Mar 2024 23:30:00 -0100", "Message-ID": "<one@x>"},
            "Hello world\nthe  quick\tbrown fox\n"),
    message({"From": "Bob <bob@example.net>", "To": "=?iso-8859-1?q?Andr=E9?= <andre@x.test>",
             "Cc": "carol@example.com", "Bcc": "secret@example.com",
             "Subject": "Re: budget", "Date": "Sun, 10 Mar 2024 08:00:00 +0000",
             "X-Mailer": "Mutt"}, "numbers attached\n"),
    message({"From": "carol@example.com", "Subject": "budget",
             "MIME-Version": "1.0", "Content-Type": "multipart/mixed; boundary=B"},
            "--B\nContent-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: quoted-printable\n\nna=EFve caf=E9\n"
            "--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            "c2VjcmV0IGF0dGFjaG1lbnQ=\n--B--\n"),
    message({"Subject": "no date, no from"}, ""),
    message({"From": "dave@example.com", "Subject": "big",
             "Date": "Mon, 11 Mar 2024 10:00:00 +0000"}, "x" * 3000 + "\n"),
]
FLAGS = [frozenset({SEEN, "$Label1"}), frozenset({ANSWERED, SEEN, RECENT}),
         frozenset({FLAGGED, RECENT}), frozenset({DELETED, DRAFT}), frozenset()]
DATES = [datetime(2024, 3, 9, 23, 59, tzinfo=UTC), datetime(2024, 3, 10, 0, 1, tzinfo=UTC),
         datetime(2024, 3, 10, 12, 0, tzinfo=UTC), datetime(2024, 3, 11, 9, 0, tzinfo=UTC),
         datetime(2024, 3, 12, 9, 0, tzinfo=UTC)]


@pytest.fixture
def mailbox() -> list[FakeMessage]:
    views = folder(*MESSAGES, flags=FLAGS)
    for view, when in zip(views, DATES, strict=True):
        view.internaldate = when
    return views


def run(line: str, views: list[FakeMessage], **kwargs: object) -> list[int]:
    command = parse_command(b"t " + line.encode("utf-8"))
    return seqs(search(command.keys, views, charset=command.charset,
                       tz=UTC, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(("line", "expected"), [
    ("SEARCH ALL", [1, 2, 3, 4, 5]),
    ("SEARCH ANSWERED", [2]), ("SEARCH UNANSWERED", [1, 3, 4, 5]),
    ("SEARCH DELETED", [4]), ("SEARCH UNDELETED", [1, 2, 3, 5]),
    ("SEARCH DRAFT", [4]), ("SEARCH UNDRAFT", [1, 2, 3, 5]),
    ("SEARCH FLAGGED", [3]), ("SEARCH UNFLAGGED", [1, 2, 4, 5]),
    ("SEARCH SEEN", [1, 2]), ("SEARCH UNSEEN", [3, 4, 5]),
    ("SEARCH RECENT", [2, 3]), ("SEARCH NEW", [3]), ("SEARCH OLD", [1, 4, 5]),
    ("SEARCH KEYWORD $Label1", [1]), ("SEARCH KEYWORD $label1", [1]),
    ("SEARCH UNKEYWORD $Label1", [2, 3, 4, 5]), ("SEARCH KEYWORD $Nope", []),
    ("SEARCH LARGER 3000", [5]), ("SEARCH SMALLER 100", [4]),
    ("SEARCH 2", [2]), ("SEARCH 2:4", [2, 3, 4]), ("SEARCH 4:2", [2, 3, 4]),
    ("SEARCH *", [5]), ("SEARCH 4:*", [4, 5]), ("SEARCH 9:*", [5]), ("SEARCH 1,3,5", [1, 3, 5]),
    ("SEARCH 7", []),
    ("SEARCH UID 3", [2]), ("SEARCH UID 3:7", [2, 3, 4]), ("SEARCH UID *", [5]),
    ("SEARCH UID 20:*", [5]), ("SEARCH UID 2", []),
    ("SEARCH NOT SEEN", [3, 4, 5]), ("SEARCH NOT NOT SEEN", [1, 2]),
    ("SEARCH OR FLAGGED DELETED", [3, 4]), ("SEARCH OR SEEN (FLAGGED RECENT)", [1, 2, 3]),
    ("SEARCH SEEN RECENT", [2]), ("SEARCH (SEEN (RECENT ANSWERED))", [2]),
    ("SEARCH NOT (SEEN RECENT)", [1, 3, 4, 5]),
])
def test_metadata_keys(line: str, expected: list[int], mailbox: list[FakeMessage]) -> None:
    assert run(line, mailbox) == expected


def test_metadata_keys_open_no_file(mailbox: list[FakeMessage]) -> None:
    run("SEARCH OR (SEEN LARGER 10) NOT (UID 1:3 KEYWORD x) 1:* NOT DRAFT", mailbox)
    assert all(v.header_reads == 0 and v.full_reads == 0 for v in mailbox)


@pytest.mark.parametrize(("line", "expected"), [
    ("SEARCH FROM jm@example", [1]), ('SEARCH FROM "müller"', [1]),
    ('SEARCH FROM "MÜLLER"', [1]),
    ('SEARCH FROM "jürgen müller"', [1]), ('SEARCH FROM "\\"Jürgen"', [1]),
    ("SEARCH FROM example.com", [1, 3, 5]), ("SEARCH FROM bob", [2]),
    ("SEARCH TO \"andré\"", [2]), ("SEARCH TO ANDRE@X", [2]), ("SEARCH TO alice", [1]),
    ("SEARCH CC carol", [2]), ("SEARCH BCC secret", [2]), ("SEARCH BCC carol", []),
    ("SEARCH SUBJECT budget", [2, 3]), ("SEARCH SUBJECT re:", [2]),
    ("SEARCH SUBJECT \"grüsse\"", [1]),           # casefold: ß matches ss
    ("SEARCH SUBJECT \"GRÜSSE\"", [1]), ("SEARCH SUBJECT \"köln\"", [1]),
    ('SEARCH SUBJECT "  aus   köln "', [1]),  # whitespace runs are one space
    ('SEARCH SUBJECT ""', [1, 2, 3, 4, 5]), ('SEARCH FROM ""', [1, 2, 3, 5]),
    ('SEARCH CC ""', [2]),
    ("SEARCH HEADER X-Mailer mutt", [2]), ('SEARCH HEADER x-mailer ""', [2]),
    ('SEARCH HEADER X-Nope ""', []), ("SEARCH HEADER Message-ID <one@x>", [1]),
    ("SEARCH HEADER Content-Type multipart", [3]),
    ("SEARCH BODY world", [1]), ('SEARCH BODY "the quick brown"', [1]),
    ("SEARCH BODY \"naïve\"", [3]), ("SEARCH BODY \"CAFÉ\"", [3]),
    ("SEARCH BODY secret", []),                # in an attachment, not text
    ("SEARCH BODY budget", []),                # only in a header
    ("SEARCH TEXT budget", [2, 3]), ("SEARCH TEXT world", [1]),
    ("SEARCH TEXT x-mailer:", [2]), ("SEARCH TEXT \"andré\"", [2]),
    ("SEARCH CHARSET UTF-8 SUBJECT \"köln\"", [1]), ("SEARCH CHARSET us-ascii FROM bob", [2]),
    ("SEARCH NOT FROM example", [4]), ("SEARCH OR FROM bob SUBJECT big", [2, 5]),
])
def test_string_keys(line: str, expected: list[int], mailbox: list[FakeMessage]) -> None:
    assert run(line, mailbox) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("SEARCH BEFORE 10-Mar-2024", [1]), ("SEARCH ON 10-Mar-2024", [2, 3]),
    ("SEARCH SINCE 10-Mar-2024", [2, 3, 4, 5]), ("SEARCH SINCE 12-Mar-2024", [5]),
    ("SEARCH NOT ON 10-Mar-2024", [1, 4, 5]),
    # The Date: header's own calendar day, whatever its zone.
    ("SEARCH SENTON 9-Mar-2024", [1]), ("SEARCH SENTBEFORE 10-Mar-2024", [1]),
    ("SEARCH SENTSINCE 10-Mar-2024", [2, 5]), ("SEARCH SENTON 11-Mar-2024", [5]),
    # A message without a usable Date: matches no SENT* key, so NOT matches it.
    ("SEARCH NOT SENTSINCE 1-Jan-2000", [3, 4]),
])
def test_date_keys(line: str, expected: list[int], mailbox: list[FakeMessage]) -> None:
    assert run(line, mailbox) == expected


def test_internal_date_uses_the_given_zone(mailbox: list[FakeMessage]) -> None:
    command = parse_command(b"t SEARCH ON 9-Mar-2024")
    # 00:01 UTC on the 10th is still the 9th five hours west.
    west = timezone(timedelta(hours=-5))
    assert seqs(search(command.keys, mailbox, tz=west)) == [1, 2]
    assert seqs(search(command.keys, mailbox, tz=UTC)) == [1]


def test_naive_internal_date_is_local_time(mailbox: list[FakeMessage]) -> None:
    mailbox[4].internaldate = datetime(2024, 3, 20, 12, 0)
    command = parse_command(b"t SEARCH ON 20-Mar-2024")
    assert seqs(search(command.keys, mailbox)) == [5]


def test_other_charsets_python_knows_are_decoded(mailbox: list[FakeMessage]) -> None:
    # As Courier: a Latin-1 search string finds the same words as UTF-8 does.
    latin1 = parse_command(b"t SEARCH CHARSET ISO-8859-1 TEXT {4+}\r\ncaf\xe9")
    utf8 = parse_command(b"t SEARCH CHARSET UTF-8 TEXT {5+}\r\ncaf\xc3\xa9")
    found = seqs(search(latin1.keys, mailbox, charset=latin1.charset))
    assert found == seqs(search(utf8.keys, mailbox, charset=utf8.charset))
    assert found  # the quoted-printable "caf=E9" part
    koi8 = parse_command(b"t SEARCH CHARSET KOI8-R ALL")
    assert len(search(koi8.keys, mailbox, charset=koi8.charset)) == len(mailbox)


@pytest.mark.parametrize("charset", ["X-UNKNOWN", "base64"])
def test_other_charsets_are_refused(charset: str, mailbox: list[FakeMessage]) -> None:
    command = parse_command(f"t SEARCH CHARSET {charset} ALL".encode())
    with pytest.raises(BadCharset) as raised:
        search(command.keys, mailbox, charset=command.charset)
    assert raised.value.response_code == "BADCHARSET (UTF-8 US-ASCII)"
    assert raised.value.charset.upper() == charset.upper()


def test_saved_result() -> None:
    views = folder(message(), message(), message())
    command = parse_command(b"t SEARCH $")
    assert seqs(search(command.keys, views, saved_uids={3, 5})) == [2, 3]
    assert seqs(search(command.keys, views)) == []


def test_header_cache_serves_repeated_searches(mailbox: list[FakeMessage]) -> None:
    cache = SearchCache()
    first = parse_command(b"t SEARCH FROM example.com")
    assert seqs(search(first.keys, mailbox, cache=cache)) == [1, 3, 5]
    reads = [v.header_reads for v in mailbox]
    assert reads == [1, 1, 1, 1, 1]
    assert seqs(search(first.keys, mailbox, cache=cache)) == [1, 3, 5]
    assert [v.header_reads for v in mailbox] == reads       # all from the cache
    # A flag change renames the file; the base name still finds the entry.
    mailbox[0].filename = mailbox[0].filename + "S"
    search(first.keys, mailbox, cache=cache)
    assert mailbox[0].header_reads == 1
    # New UIDs for the same files (a rebuilt uid database): read again.
    mailbox[1].uid = 99
    search(first.keys, mailbox, cache=cache)
    assert mailbox[1].header_reads == 2


def test_one_header_read_for_several_header_keys(mailbox: list[FakeMessage]) -> None:
    command = parse_command(b"t SEARCH OR FROM zzz (TO zzz) CC zzz SUBJECT zzz SENTON 1-Jan-2020")
    search(command.keys, mailbox)
    assert [v.header_reads for v in mailbox] == [1, 1, 1, 1, 1]


def test_cheap_keys_spare_the_files(mailbox: list[FakeMessage]) -> None:
    command = parse_command(b"t SEARCH BODY world FROM example.com SEEN")
    assert seqs(search(command.keys, mailbox)) == [1]
    # Only the two \Seen messages get their headers read, and only the one
    # whose From: matches gets its body read.
    assert [v.header_reads for v in mailbox] == [1, 1, 0, 0, 0]
    assert [v.full_reads for v in mailbox] == [1, 0, 0, 0, 0]


def test_cache_forgets_expunged_messages() -> None:
    cache = SearchCache()
    views = folder(*[message({"From": f"u{i}@x"}) for i in range(2000)])
    command = parse_command(b"t SEARCH FROM u1")
    search(command.keys, views, cache=cache)
    assert len(cache) == 2000
    search(command.keys, views[:10], cache=cache)
    assert len(cache) == 10


def test_crlf_and_folded_headers() -> None:
    data = (b"Subject: a long\r\n folded subject\r\nFrom: x@y\r\n"
            b"X-Tag:\r\n\tvalue here\r\n\r\nbody\r\n")
    views = folder(data)
    for line, expected in [(b"SUBJECT \"long folded\"", [1]), (b"HEADER X-Tag \"value here\"", [1]),
                           (b"BODY body", [1]), (b"FROM x@y", [1])]:
        command = parse_command(b"t SEARCH " + line)
        assert seqs(search(command.keys, views)) == expected, line
