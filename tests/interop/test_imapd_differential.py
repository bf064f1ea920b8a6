"""``postillion imapd`` against Courier's ``imapd``, command by command.

One long script (tests/interop/differential/script.py: every command of
RFC 3501 and Courier's extensions, error cases included) runs through
Courier's preauthenticated ``/usr/bin/imapd`` and through ``postillion
imapd`` on two copies of one maildir with tricky MIME (differential/corpus.py),
with the packaged /etc/courier/imapd settings in the environment.  The answers
are compared after normalising only what may legitimately differ
(differential/normalise.py: texts after status words, UIDVALIDITY values,
INTERNALDATEs stamped during the run, the order of LIST/LSUB lines).

Every command must give the same answer, except

* DIFFERENCES: where we differ on purpose (a Courier bug, an RFC Courier does
  not follow, a documented improvement) or where neither form is prescribed.
  Those must still differ, so that the table shrinks when either side
  changes; an entry with ``lines`` may differ only in lines matching it.
* KNOWN_BUGS: differences that are bugs of ours not fixed yet (xfail, strict:
  a fixed bug makes the test fail until the entry is removed).

The shares of exact, normalised and deliberate matches are printed and written
to differential/report.txt.  ``python -m tests.interop.differential.runner DIR``
keeps both maildirs and transcripts for working on a case by hand.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import courier_program
from tests.interop.differential.runner import Comparison, run_both
from tests.interop.differential.script import KEYS

pytestmark = pytest.mark.interop

REPORT = Path(__file__).parent / "differential" / "report.txt"


@dataclass(frozen=True)
class Differs:
    why: str                       # one of the categories below
    reason: str
    lines: str | None = None       # regex: only normalised lines matching it may differ


COURIER_BUG = "Courier bug"
RFC = "RFC Courier does not follow"
DOCUMENTED = "documented improvement"
UNPRESCRIBED = "nothing prescribed"
CHOICE = "our choice, to be documented"

NO_CODES = Differs(DOCUMENTED, "RFC 5530 response codes on NO ([ALREADYEXISTS], [NONEXISTENT], "
                   "[CANNOT], [NOPERM], [INUSE], [CLIENTBUG], [READ-ONLY]); Courier sends a bare "
                   "NO (docs/imap-session.md)", lines=r"^t\d+ NO")
HOSTILE = Differs(DOCUMENTED, "hostile name refused with NO [CANNOT]; Courier with a bare NO "
                  "(docs/imap-session.md: RFC 5530 codes)", lines=r"^t\d+ NO")
CAPABILITIES = Differs(DOCUMENTED, "we also offer ID UNSELECT LITERAL+ MOVE SPECIAL-USE "
                       "(docs/imap-session.md)", lines=r"^\* CAPABILITY ")
SPECIAL_USE = Differs(DOCUMENTED, "RFC 6154 attributes (\\Sent, \\Trash, \\Archive) from folder "
                      "names (docs/imap-session.md, Rules chosen)",
                      lines=r'^\* LIST .*"INBOX\.(Sent|Trash|Archive)"$')
SELECT_CODES = Differs(DOCUMENTED, "SELECT/EXAMINE also send [UIDNEXT] (RFC 3501 requires it) and "
                       "[UNSEEN] (docs/imap-session.md)", lines=r"^\* OK \[(UIDNEXT|UNSEEN) ")
KEYWORD_ORDER = ("the order of keywords in FLAGS/PERMANENTFLAGS is Courier's hash order; "
                 "no order is prescribed")
KEYWORDS = Differs(UNPRESCRIBED, KEYWORD_ORDER, lines=r"^\* (FLAGS|OK \[PERMANENTFLAGS) ")
SELECT_KEYWORDS = Differs(UNPRESCRIBED, KEYWORD_ORDER + "; and [UIDNEXT]/[UNSEEN] as SELECT",
                          lines=r"^\* (FLAGS|OK \[PERMANENTFLAGS|OK \[UIDNEXT|OK \[UNSEEN)")
BODY_EXTENSIONS = Differs(DOCUMENTED, "BODYSTRUCTURE reports Content-Location (RFC 3501 body "
                          "extension) and Content-Language; Courier omits them "
                          "(docs/message.md)")
NO_BLANK_LINE_BODY = Differs(COURIER_BUG, "message without the blank line: Courier makes a lone "
                             "CR of the last header line's CRLF into a 1-octet body; its body is "
                             "empty")
RFC822_STRAY_CR = Differs(COURIER_BUG, "message/rfc822 part ending before a boundary: Courier "
                          "counts a stray CR into its size and content (docs/message.md)")
RFC822_AT_EOF = Differs(COURIER_BUG, "top-level message/rfc822: Courier drops the final line "
                        "break of the encapsulated body (15 octets, 0 lines for a 16-octet "
                        "one-line text)")
HEADER_FIELDS_ECHO = Differs(CHOICE, "the section echoed as the client wrote it, "
                             "HEADER.FIELDS (FROM SUBJECT); Courier quotes the field names, "
                             'HEADER.FIELDS ("FROM" "SUBJECT"). Both are valid astrings')
GROUPS = ("groups in RFC 3501 form ((NIL NIL \"Team\" NIL) ... (NIL NIL NIL NIL)); Courier "
          "gives (NIL NIL \"\" NIL) and loses the name (docs/message.md)")
SEEN_IN_FETCH = Differs(DOCUMENTED, "\\Seen set by BODY[...] is reported inside the same FETCH "
                        "response; Courier sends a second FETCH (FLAGS) (docs/imap-session.md)")
LSUB = ("LSUB: a subscribed name that does not exist is \\Noselect (Courier: \\HasNoChildren); "
        "children are the folder's, subscribed or not (Courier: \\HasNoChildren for "
        "INBOX.Work); a parent is listed \\Noselect only where % stops (docs/imap-session.md); "
        "no \\Marked in LSUB (RFC 3501 6.3.9 lets LSUB flags differ from LIST)")
EXPUNGE_EXISTS = Differs(UNPRESCRIBED, "after EXPUNGE Courier repeats * n EXISTS and * 0 RECENT; "
                         "RFC 3501 7.4.1 EXPUNGE responses already decrement the count",
                         lines=r"^\* \d+ (EXISTS|RECENT)$")
SYNTAX_NO = Differs(RFC, "RFC 3501 syntax: Courier accepts it and answers OK with nothing; "
                    "we refuse it (NO, Courier's answer to other bad commands)")

DIFFERENCES: dict[str, Differs] = {
    "CAPABILITY": CAPABILITIES,
    "CAPABILITY #2": CAPABILITIES,
    "ID NIL": Differs(DOCUMENTED, "RFC 2971 ID is answered; Courier has no ID "
                      "(docs/imap-session.md)"),
    'LIST "" *': SPECIAL_USE,
    'LIST "" INBOX.%': SPECIAL_USE,
    'LIST "" INBOX.*': SPECIAL_USE,
    "LIST INBOX. %": SPECIAL_USE,
    'LIST "" INBOX.A*': SPECIAL_USE,
    'LIST "" INBOX.A* #2': SPECIAL_USE,
    'LIST "" * #2': Differs(DOCUMENTED, SPECIAL_USE.reason + "; and INBOX.Trailing exists "
                            "(see LIST \"\" INBOX.Trailing*)"),
    'LSUB "" *': Differs(CHOICE, LSUB),
    'LSUB "" %': Differs(CHOICE, LSUB),
    'LSUB "" INBOX.%': Differs(CHOICE, LSUB),
    'LSUB "" * #2': Differs(CHOICE, LSUB),
    'LSUB "" * #3': Differs(CHOICE, LSUB),
    'LSUB "" * #4': Differs(CHOICE, LSUB),
    "CREATE INBOX.New #2": NO_CODES,
    "CREATE INBOX": NO_CODES,
    "CREATE inbox": NO_CODES,
    'LIST "" INBOX.Trailing*': Differs(RFC, "RFC 3501 6.3.3: CREATE INBOX.Trailing. creates "
                                       "INBOX.Trailing; Courier says OK and creates nothing"),
    "RENAME INBOX.Renamed INBOX.Work": NO_CODES,
    "RENAME INBOX.Missing INBOX.Other": Differs(RFC, "renaming a mailbox that does not exist is "
                                                "NO [NONEXISTENT]; Courier answers OK and does "
                                                "nothing (docs/storage.md)"),
    "DELETE INBOX": NO_CODES,
    "DELETE INBOX.Missing": NO_CODES,
    "DELETE INBOX.Z": NO_CODES,
    "DELETE INBOX.Z.B": NO_CODES,
    'DELETE "INBOX.Genève"': NO_CODES,
    'CREATE "INBOX.../etc"': HOSTILE,
    'CREATE "INBOX./etc"': HOSTILE,
    'CREATE "../outside"': HOSTILE,
    'CREATE "INBOX.a/b"': HOSTILE,
    'CREATE "/tmp/absolute"': HOSTILE,
    'CREATE "INBOX..empty"': HOSTILE,
    'SELECT "INBOX/../.."': HOSTILE,
    'RENAME INBOX.Work "INBOX.../Work"': HOSTILE,
    'STATUS "../Maildir" (MESSAGES)': HOSTILE,
    'DELETE "INBOX.."': Differs(DOCUMENTED, "an empty name component is refused; Courier "
                                "answers OK to DELETE of INBOX.. (docs/imap-session.md)"),
    "STATUS INBOX.Missing (MESSAGES)": NO_CODES,
    "STATUS INBOX (BOGUS)": SYNTAX_NO,
    "STATUS INBOX ()": SYNTAX_NO,
    "GETQUOTAROOT INBOX #2": Differs(CHOICE, "Courier recounts maildirsize after a DELETE and "
                                     "its recount leaves out messages flagged T (\\Deleted); "
                                     "we keep the file's running total (10 messages, not 9)"),
    "GETQUOTAROOT INBOX.Work": Differs(CHOICE, "as GETQUOTAROOT INBOX #2: Courier's recount"),
    'GETQUOTA "ROOT"': Differs(CHOICE, "as GETQUOTAROOT INBOX #2: Courier's recount"),
    'SETQUOTA "ROOT" (STORAGE 100)': NO_CODES,
    "MYRIGHTS INBOX.Missing": NO_CODES,
    "GETACL INBOX.Missing": NO_CODES,
    "FETCH 1:* (UID RFC822.SIZE)": Differs(CHOICE, "the UIDs of APPEND INBOX.Sent, below"),
    "APPEND INBOX.Sent (\\Seen) {LIT}": Differs(CHOICE, "a folder without courierimapuiddb: "
                                                "Courier gives the APPENDed message UID 1 and "
                                                "numbers the older message after it; we number "
                                                "the folder's messages first, so UIDs follow "
                                                "arrival"),
    "SELECT INBOX": SELECT_CODES,
    "SELECT INBOX #3": SELECT_CODES,
    "SELECT INBOX #4": SELECT_CODES,
    "EXAMINE INBOX.Sent": SELECT_CODES,
    'SELECT "INBOX.Projekte.&ANw-berblick"': SELECT_CODES,
    "EXAMINE INBOX.Work.2024": SELECT_CODES,
    'SELECT "INBOX.Projekte.Überblick"': SELECT_CODES,
    'SELECT "INBOX.Genève"': SELECT_CODES,
    "EXAMINE INBOX.Work": SELECT_KEYWORDS,
    "SELECT INBOX #2": SELECT_KEYWORDS,
    "UID STORE 3 +FLAGS (\\Draft Junk)": KEYWORDS,
    "UID STORE 3 FLAGS.SILENT (NonJunk)": KEYWORDS,
    "SELECT INBOX.Work": SELECT_KEYWORDS,
    "FETCH 1 ENVELOPE": Differs(DOCUMENTED, GROUPS),
    "FETCH 1 ALL": Differs(DOCUMENTED, GROUPS),
    "FETCH 1 FULL": Differs(DOCUMENTED, GROUPS),
    "FETCH 3 ENVELOPE": Differs(DOCUMENTED, "raw 8-bit header text is sent as it is (a literal); "
                                "Courier re-encodes it as =?utf-8?B?...?= (docs/message.md)"),
    "FETCH 1 BODYSTRUCTURE": BODY_EXTENSIONS,
    "FETCH 3 BODYSTRUCTURE": BODY_EXTENSIONS,
    "FETCH 4 BODYSTRUCTURE": BODY_EXTENSIONS,
    "FETCH 7 BODYSTRUCTURE": BODY_EXTENSIONS,
    "FETCH 2 BODYSTRUCTURE": Differs(DOCUMENTED, BODY_EXTENSIONS.reason + "; and "
                                     + RFC822_STRAY_CR.reason),
    "FETCH 5 BODYSTRUCTURE": Differs(DOCUMENTED, BODY_EXTENSIONS.reason + "; and "
                                     + NO_BLANK_LINE_BODY.reason),
    "FETCH 6 BODYSTRUCTURE": Differs(DOCUMENTED, BODY_EXTENSIONS.reason + "; and "
                                     + RFC822_AT_EOF.reason),
    "FETCH 2 BODY": RFC822_STRAY_CR,
    "FETCH 5 BODY": NO_BLANK_LINE_BODY,
    "FETCH 6 BODY": RFC822_AT_EOF,
    "FETCH 5 BODY.PEEK[TEXT]": NO_BLANK_LINE_BODY,
    "FETCH 5 BODY.PEEK[HEADER]": Differs(COURIER_BUG, NO_BLANK_LINE_BODY.reason + ": its "
                                         "BODY[HEADER] ends in that lone CR (115 octets); ours "
                                         "is the stored header, 116 octets, as its "
                                         "RFC822.HEADER"),
    "FETCH 5 BODY.PEEK[1]": NO_BLANK_LINE_BODY,
    "FETCH 6 BODY.PEEK[1]": RFC822_AT_EOF,
    "FETCH 6 BODY.PEEK[1.TEXT]": RFC822_AT_EOF,
    "FETCH 2 BODY.PEEK[2.2]": RFC822_STRAY_CR,
    "FETCH 2 BODY.PEEK[2.2.TEXT]": RFC822_STRAY_CR,
    "FETCH 2 BODY.PEEK[2.2.1]": RFC822_STRAY_CR,
    **{f"FETCH {n} BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]": HEADER_FIELDS_ECHO
       for n in range(1, 8)},
    "FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT)]": HEADER_FIELDS_ECHO,
    "FETCH 3 BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT)]": HEADER_FIELDS_ECHO,
    "FETCH 5 BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT)]": Differs(
        COURIER_BUG, HEADER_FIELDS_ECHO.reason + "; and for the message without the blank "
        "line Courier's HEADER.FIELDS.NOT has no blank line (its HEADER.FIELDS has one)"),
    "FETCH 2 BODY.PEEK[2.HEADER.FIELDS (SUBJECT DATE)]": HEADER_FIELDS_ECHO,
    "FETCH 1:3 BODY.PEEK[HEADER.FIELDS (X-NONE)]": HEADER_FIELDS_ECHO,
    "FETCH 1 BODY.PEEK[]<0.0>": SYNTAX_NO,
    "FETCH 1 BODY[]<10>": Differs(RFC, "RFC 3501: a partial in FETCH needs <origin.length>; "
                                  "Courier takes <10> as from octet 10 to the end"),
    "FETCH 4:5 RFC822.TEXT": Differs(COURIER_BUG, "RFC822.TEXT sets \\Seen like BODY[TEXT] "
                                     "(RFC 3501 6.4.5); Courier's does not. And "
                                     + NO_BLANK_LINE_BODY.reason),
    "FETCH 5 RFC822": Differs(COURIER_BUG, "Courier sets \\Seen only now (its RFC822.TEXT "
                              "did not), so only it reports FLAGS"),
    "FETCH 7 BODY[1]": SEEN_IN_FETCH,
    "FETCH 3 (UID FLAGS BODY[HEADER.FIELDS (DATE)] BODY.PEEK[TEXT]<2.5>)": Differs(
        CHOICE, SEEN_IN_FETCH.reason + " (so FLAGS asked before BODY[...] already shows "
        "\\Seen); " + HEADER_FIELDS_ECHO.reason + "; and Courier's RFC 6855 ALERT"),
    "FETCH 1 (ENVELOPE BODY[])": SEEN_IN_FETCH,
    "FETCH 3:1 UID": Differs(RFC, "RFC 3501: 3:1 is 1:3; Courier returns nothing for a "
                             "descending range (docs/search.md)"),
    "FETCH 0 FLAGS": Differs(RFC, "0 is not a sequence number (RFC 3501 seq-number is nz-number): "
                             "we refuse the command; Courier says * NO and then OK"),
    "COPY 99 INBOX.Work": Differs(RFC, "a sequence number beyond EXISTS is an error for COPY "
                                  "(RFC 3501 7.4.1/9); Courier says * NO twice and then OK"),
    "FETCH 1:4294967296 FLAGS": Differs(RFC, "4294967296 is no RFC 3501 number (below 2^32): we "
                                        "refuse the command; Courier answers the messages it "
                                        "has, then * NO and OK"),
    "THREAD ORDEREDSUBJECT UTF-8 SEEN": Differs(RFC, "no thread: RFC 5256 thread-data is THREAD "
                                                "alone; Courier writes \"* THREAD \" with a "
                                                "trailing space"),
    "MOVE 1 INBOX.Archive": Differs(DOCUMENTED, "RFC 6851 MOVE is offered; Courier has none "
                                    "(docs/imap-session.md)"),
    "STATUS INBOX.Archive (MESSAGES)": Differs(DOCUMENTED, "the message MOVEd there"),
    "UNSELECT": Differs(DOCUMENTED, "RFC 3691 UNSELECT is offered; Courier has none "
                        "(docs/imap-session.md)"),
    "SEARCH OR (FROM bob) (SUBJECT weekly)": Differs(COURIER_BUG, "FROM is the message's From: "
                                                     "(RFC 3501); Courier also matches the "
                                                     "From: of a message/rfc822 body"),
    "SEARCH SINCE 32-Jan-2024": SYNTAX_NO,
    "SEARCH CHARSET X-UNKNOWN ALL": Differs(DOCUMENTED, "[BADCHARSET (UTF-8 US-ASCII)] lists what "
                                            "we take (RFC 3501 7.1); Courier's code has no list "
                                            "(docs/search.md)"),
    "SORT (DATE) X-UNKNOWN ALL": Differs(DOCUMENTED, "[BADCHARSET (...)] as for SEARCH"),
    "SORT (TO) UTF-8 ALL": Differs(DOCUMENTED, "RFC 5256: TO sorts by the first address's local "
                                   "part and ties go in sequence order (docs/search.md)"),
    "SORT (CC) UTF-8 ALL": Differs(DOCUMENTED, "RFC 5256: messages without Cc: have an empty key "
                                   "and keep sequence order; Courier puts ties in descending "
                                   "order (docs/search.md)"),
    "THREAD BOGUS UTF-8 ALL": NO_CODES,
    "EXPUNGE #2": EXPUNGE_EXISTS,
    "UID EXPUNGE 2": EXPUNGE_EXISTS,
    "EXPUNGE #3": EXPUNGE_EXISTS,
    "NOOP after another process expunged": EXPUNGE_EXISTS,
    "EXPUNGE #4": NO_CODES,
    "SELECT INBOX.Missing": NO_CODES,
    'APPEND "INBOX.Zürich" {LIT}': Differs(UNPRESCRIBED, "Courier adds * OK [ALERT] asking for an "
                                           "RFC 6855 UTF8 literal; RFC 6855 does not require "
                                           "one", lines=r"^\* OK \[ALERT\]"),
}

#: Bugs of ours found by this test and not fixed yet: none at the moment.
KNOWN_BUGS: dict[str, str] = {}


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Comparison]:
    courier_program("imapd")
    workdir = tmp_path_factory.mktemp("imapd-differential")
    return {comparison.key: comparison for comparison in run_both(workdir)}


def _without(lines: list[str], pattern: str) -> list[str]:
    return [line for line in lines if not re.search(pattern, line)]


def verdict(comparison: Comparison) -> str:
    """exact, normalised, deliberate, known bug, or a failure description."""
    if comparison.exact:
        return "exact"
    if comparison.normalised_equal:
        return "normalised"
    key = comparison.key
    for side in (comparison.courier, comparison.ours):
        if side.problem and side.problem != "literal refused":
            return f"MISMATCH: a server stopped answering ({side.problem})"
    if key in KNOWN_BUGS:
        return "known bug"
    differs = DIFFERENCES.get(key)
    if differs is None:
        return "MISMATCH"
    if differs.lines is not None and (
            _without(comparison.courier_normalised, differs.lines)
            != _without(comparison.ours_normalised, differs.lines)):
        return "MISMATCH outside the lines allowed to differ"
    return "deliberate"


def test_tables_name_commands_of_the_script() -> None:
    keys = {"<greeting>", *KEYS}
    assert not set(DIFFERENCES) - keys
    assert not set(KNOWN_BUGS) - keys
    assert not set(DIFFERENCES) & set(KNOWN_BUGS)


@pytest.mark.parametrize("key", ["<greeting>", *KEYS])
def test_same_answer_as_courier(key: str, comparisons: dict[str, Comparison]) -> None:
    comparison = comparisons[key]
    outcome = verdict(comparison)
    if key in DIFFERENCES or key in KNOWN_BUGS:
        assert outcome not in ("exact", "normalised"), (
            f"{key!r} now answers like Courier: take it out of the table\n"
            + comparison.describe())
    if outcome == "known bug":
        pytest.xfail(KNOWN_BUGS[key])
    assert outcome in ("exact", "normalised", "deliberate"), outcome + "\n" + comparison.describe()


def test_report(comparisons: dict[str, Comparison]) -> None:
    """The shares, printed (pytest -s) and written to differential/report.txt."""
    outcomes: dict[str, list[str]] = {}
    for key, comparison in comparisons.items():
        outcomes.setdefault(verdict(comparison), []).append(key)
    total = len(comparisons)
    lines = [f"postillion imapd against Courier's imapd: {total} exchanges "
             "(the greeting and every command of tests/interop/differential/script.py)", ""]
    for name in ("exact", "normalised", "deliberate", "known bug"):
        count = len(outcomes.get(name, []))
        lines.append(f"{name:>11}: {count:4d}  {100 * count / total:5.1f} %")
    failures = [k for name, keys in outcomes.items() if name.startswith("MISMATCH") for k in keys]
    lines.append(f"{'mismatch':>11}: {len(failures):4d}")
    lines += ["", "Deliberate differences by category:"]
    for why in (COURIER_BUG, RFC, DOCUMENTED, UNPRESCRIBED, CHOICE):
        keys = [k for k in outcomes.get("deliberate", []) if DIFFERENCES[k].why == why]
        lines.append(f"  {why}: {len(keys)}")
        lines += [f"    {k}" for k in keys]
    lines += ["", "Known bugs (xfail):"]
    lines += [f"  {k}: {KNOWN_BUGS[k]}" for k in outcomes.get("known bug", [])]
    text = "\n".join(lines) + "\n"
    REPORT.write_text(text, encoding="utf-8")
    print("\n" + text)
    assert not failures, failures


FAKE_SERVER = r'''
import sys
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(b"* PREAUTH fake\r\n"); out.flush()
while True:
    line = inp.readline()
    if not line:
        break
    tag, _, rest = line.partition(b" ")
    if rest.startswith(b"APPEND"):
        out.write(b"+ go ahead\r\n"); out.flush()
        data = inp.read(6) + inp.readline()
        out.write(b"* 1 FETCH (BODY[] {6}\r\n" + data[:6] + b" UID 1)\r\n")
        out.write(tag + b" OK done\r\n"); out.flush()
    elif rest.startswith(b"IDLE"):
        out.write(b"+ idling\r\n"); out.flush()
        assert inp.readline() == b"DONE\r\n"
        out.write(tag + b" OK idle done\r\n"); out.flush()
    elif rest.startswith(b"HANG"):
        inp.readline()
    else:
        out.write(tag + b" BAD what\r\n"); out.flush()
'''


def test_driver_waits_for_continuations_reads_literals_and_gives_up_in_time(
        tmp_path: Path) -> None:
    from tests.interop.differential.driver import Step, run_script

    steps = [Step("APPEND INBOX {LIT}", (b"ab\r\ncd",)), Step("IDLE", continuation="DONE"),
             Step("HANG"), Step("NOOP")]
    exchanges = run_script([sys.executable, "-c", FAKE_SERVER], tmp_path,
                           {"PATH": "/usr/bin:/bin"}, steps, timeout=2.0)
    greeting, append, idle, hang, noop = exchanges
    assert greeting.lines == [b"* PREAUTH fake"]
    # The literal in the response holds a CRLF: still one logical line.
    assert append.lines == [b"+ go ahead", b"* 1 FETCH (BODY[] {6}\r\nab\r\ncd UID 1)",
                            b"t0001 OK done"]
    assert idle.lines == [b"+ idling", b"t0002 OK idle done"] and not idle.problem
    assert hang.problem.startswith("no output for")
    assert noop.problem.startswith("not sent")
