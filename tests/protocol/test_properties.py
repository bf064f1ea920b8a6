"""Property tests: what we write, we read back the same; nothing a client
sends makes the core raise or depend on how the bytes were split."""

from __future__ import annotations

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postillion.imap.protocol import (
    NEED_DATA,
    CommandError,
    Connection,
    ConnectionClosed,
    FetchAtt,
    Limits,
    LiteralRequest,
    SeqRange,
    SequenceSet,
    SessionState,
    wire,
)
from postillion.imap.protocol import (
    commands as c,
)
from postillion.imap.protocol import searchkeys as k
from postillion.imap.protocol.fetchatts import fetch_atts_to_wire
from postillion.imap.protocol.lexer import ATOM_CHARS
from postillion.imap.protocol.sequence import parse_sequence_set
from postillion.message import Section

from .helpers import parse_one, run

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

atoms = st.text(alphabet=sorted(chr(b) for b in ATOM_CHARS), min_size=1, max_size=8).filter(
    lambda s: s.upper() != "NIL")
numbers = st.integers(1, 4_294_967_295)
seq_values = st.one_of(st.none(), numbers)
sequence_sets = st.one_of(
    st.just(SequenceSet(saved=True)),
    st.lists(st.tuples(seq_values, seq_values), min_size=1, max_size=5).map(
        lambda pairs: SequenceSet(tuple(SeqRange(a, b) for a, b in pairs))))
dates = st.dates(datetime.date(1900, 1, 1), datetime.date(9999, 12, 31))


@FAST
@given(st.binary(max_size=80), st.binary(max_size=80), st.booleans())
def test_string_round_trip(user: bytes, password: bytes, plus: bool) -> None:
    line = b"t LOGIN " + wire.astring(user, plus=plus) + b" " + wire.string(password, plus=plus)
    assert parse_one(line, SessionState.NOT_AUTHENTICATED) == c.Login(b"t", user, password)


@FAST
@given(sequence_sets)
def test_sequence_set_round_trip(seqset: SequenceSet) -> None:
    assert parse_sequence_set(seqset.to_wire().encode()) == seqset
    assert parse_one(b"t FETCH " + seqset.to_wire().encode() + b" UID") == c.Fetch(
        b"t", seqset, (FetchAtt("UID"),))


@FAST
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40) | st.none()), min_size=1,
                max_size=6), st.integers(0, 45))
def test_resolve_matches_brute_force(pairs: list[tuple[int, int | None]], largest: int) -> None:
    seqset = SequenceSet(tuple(SeqRange(a, b) for a, b in pairs))
    expected = set()
    for a, b in pairs:
        b = largest if b is None else b
        expected.update(range(min(a, b), max(a, b) + 1))
    assert set(seqset.iter_numbers(largest)) == {n for n in expected if 1 <= n <= largest}
    assert SequenceSet.from_numbers(expected).resolve(largest) == seqset.resolve(largest)


def _flag_keys() -> st.SearchStrategy[k.SearchKey]:
    system = st.sampled_from(["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"])
    return st.one_of(
        st.builds(k.FlagKey, system, st.booleans()),
        st.just(k.FlagKey("\\Recent")),
        st.builds(k.FlagKey, atoms, st.booleans()))


leaf_keys: st.SearchStrategy[k.SearchKey] = st.one_of(
    st.just(k.AllKey()), st.just(k.NewKey()), st.just(k.OldKey()), _flag_keys(),
    st.builds(k.TextKey, st.sampled_from(sorted(k.TEXT_FIELDS)), st.binary(max_size=20)),
    st.builds(k.HeaderKey, st.binary(max_size=10), st.binary(max_size=20)),
    st.builds(k.DateKey, st.sampled_from(sorted(k.DATE_FIELDS)), dates),
    st.builds(k.SizeKey, st.booleans(), st.integers(0, 4_294_967_295)),
    st.builds(k.SequenceKey, sequence_sets, st.booleans()))

search_keys = st.recursive(leaf_keys, lambda inner: st.one_of(
    st.builds(k.NotKey, inner), st.builds(k.OrKey, inner, inner),
    st.lists(inner, min_size=1, max_size=3).map(lambda ks: k.AndKey(tuple(ks)))),
    max_leaves=8)


@FAST
@given(st.lists(search_keys, min_size=1, max_size=3), st.booleans())
def test_search_round_trip(keys: list[k.SearchKey], uid: bool) -> None:
    line = (b"t UID SEARCH " if uid else b"t SEARCH ") + k.search_program_to_wire(tuple(keys))
    assert parse_one(line) == c.Search(b"t", tuple(keys), uid=uid)


header_names = st.binary(min_size=1, max_size=10)
sections = st.one_of(
    st.builds(Section, st.lists(st.integers(1, 99), max_size=3).map(tuple),
              st.sampled_from(["", "HEADER", "TEXT"])),
    st.builds(Section, st.lists(st.integers(1, 99), min_size=1, max_size=3).map(tuple),
              st.just("MIME")),
    st.builds(Section, st.lists(st.integers(1, 99), max_size=3).map(tuple),
              st.sampled_from(["HEADER.FIELDS", "HEADER.FIELDS.NOT"]),
              st.lists(header_names, min_size=1, max_size=3).map(tuple)))
partials = st.none() | st.tuples(st.integers(0, 4_294_967_295), numbers)
fetch_atts = st.one_of(
    st.sampled_from(["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER",
                     "RFC822.SIZE", "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID"]).map(FetchAtt),
    st.builds(FetchAtt, st.just("BODY"), sections, partials, st.booleans()),
    st.builds(FetchAtt, st.just("BINARY"),
              st.lists(st.integers(1, 99), max_size=3).map(lambda p: Section(tuple(p))),
              partials, st.booleans()))


@FAST
@given(st.lists(fetch_atts, min_size=1, max_size=5))
def test_fetch_round_trip(atts: list[FetchAtt]) -> None:
    line = b"t FETCH 1 " + fetch_atts_to_wire(tuple(atts))
    assert parse_one(line) == c.Fetch(b"t", SequenceSet.of(1), tuple(atts))


@FAST
@given(st.datetimes(datetime.datetime(1000, 1, 1), datetime.datetime(9999, 12, 31)).map(
    lambda d: d.replace(microsecond=0)), st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.binary(max_size=30))
def test_append_date_round_trip(when: datetime.datetime, minutes: int, data: bytes) -> None:
    zone = datetime.timezone(datetime.timedelta(minutes=minutes))
    when = when.replace(tzinfo=zone)
    line = b"t APPEND INBOX () " + wire.date_time(when) + b" " + wire.literal(data)
    event = parse_one(line, SessionState.AUTHENTICATED)
    assert event == c.Append(b"t", b"INBOX", (c.AppendMessage(data, (), when),))
    assert event.messages[0].internal_date.utcoffset() == zone.utcoffset(None)  # type: ignore


TOKENS = [b"a1 ", b"UID ", b"FETCH ", b"SEARCH ", b"LOGIN ", b"APPEND ", b"{3}\r\n", b"{2+}\r\n",
          b"~{1}\r\n", b"{99999999999}\r\n", b"(", b")", b'"', b"\\", b"\r\n", b"\n", b"\0",
          b"\xff\xfe", b"*", b"1:*", b"BODY[", b"]", b"<1.2>", b" ", b"NOT ", b"OR ", b"x",
          b"IDLE\r\n", b"DONE\r\n", b"{0}\r\n"]
hostile = st.lists(st.sampled_from(TOKENS) | st.binary(max_size=6), max_size=30).map(b"".join)
states = st.sampled_from(list(SessionState))
SMALL = Limits(max_line_length=64, max_literal_size=32, max_string_literal_size=8,
               max_depth=5, max_items=12)


@settings(max_examples=300, deadline=None)
@given(hostile, states, st.integers(0, 200), st.booleans())
def test_hostile_input_only_gives_defined_events(data: bytes, state: SessionState, cut: int,
                                                 small: bool) -> None:
    limits = SMALL if small else None
    cut = min(cut, len(data))
    whole = run([data], state, limits, close=True)
    split = run([data[:cut], data[cut:]], state, limits, close=True)
    assert whole == split
    assert isinstance(whole[-1], ConnectionClosed)
    for event in whole:
        assert isinstance(event, (*c.Command.__args__, CommandError, LiteralRequest,
                                  ConnectionClosed))


@settings(max_examples=100, deadline=None)
@given(hostile)
def test_hostile_input_in_line_modes(data: bytes) -> None:
    conn = Connection(state=SessionState.SELECTED)
    conn.receive_data(data)
    for _ in range(200):
        conn.start_idle() if len(data) % 2 else conn.expect_sasl_response()
        event = conn.next_event()
        if event is NEED_DATA:
            break
        if isinstance(event, LiteralRequest):
            conn.refuse_literal()
