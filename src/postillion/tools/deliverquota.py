"""``deliverquota [-c] [-w percent] [-W file] maildir [quota]``: Courier's MDA.

Reads one message on stdin and delivers it to ``maildir/new`` unless that
would take the maildir over its Maildir++ quota.  Options, messages and exit
codes are Courier's (deliverquota.courier, checked by running it):

* 0: delivered.
* 73: bad usage, ``Usage: <prog> [-c] [-w percent] maildir`` on stderr.
* 75: ``<maildir>: <error>`` on stderr when no file can be created in
  ``tmp/`` (missing maildir: ``No such file or directory``).
* 74: ``<tmpfile>: <error>`` on stderr when writing the message fails
  (a full disk: ``No space left on device``) or it cannot be linked.
* over quota, ``Mail quota exceeded.`` on stdout: 77 when stdin is a regular
  file (its size is known before reading), 75 when it is a pipe (Courier's
  own build treats that case as a temporary failure).

Step order (see docs/tools.md): the message is staged in ``tmp/`` first,
then, holding the quota lock, checked, linked into ``new/``, and its size
line appended.  A process killed before the link leaves only a file in
``tmp/``; one killed between link and append leaves a delivered message that
is not yet counted, which the next recount repairs.  Never the opposite (a
count for a message that is not there).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time

from postillion.maildir import quota
from postillion.maildir.delivery import StagedMessage, commit, discard, stage
from postillion.maildir.errors import DeliveryFailed, MailboxNotFound, QuotaExceeded
from postillion.tools._output import ToolExit

# An MTA starts this program once per message, so its start-up is most of
# the cost of a delivery: modules only annotations need (typing,
# collections.abc) are not imported at run time, and nor are dataclasses,
# contextlib, re or socket, here or in the storage modules it uses.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

EX_OK = 0
EX_USAGE = 73  # Courier's own number for bad usage (EX_CANTCREAT's value)
EX_IOERR = 74
EX_TEMPFAIL = 75
EX_NOPERM = 77

DEFAULT_QUOTAWARNMSG = "/etc/courier/quotawarnmsg"
# Environment variable that overrides where the -w warning template is read.
QUOTAWARNMSG_ENV = "POSTILLION_QUOTAWARNMSG"
QUOTAWARN_FILE = "quotawarn"
# At most one warning per this many seconds (mtime of the quotawarn file).
WARN_INTERVAL = 86400
OVER_QUOTA_TEXT = "Mail quota exceeded.\n"
_CHUNK = 1 << 16

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _atoi(text: str) -> int:
    """C's atoi: optional blanks and sign, then digits; anything else ends it."""
    text = text.lstrip(" \t\n\r\f\v")
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for ch in text:
        if not ch.isascii() or not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def rfc822_date(when: float) -> str:
    """``Wed, 25 Nov 2026 09:10:24 +0000`` in local time, as Courier writes it."""
    local = time.localtime(when)
    offset = local.tm_gmtoff or 0
    if offset % 60:
        local, offset = time.gmtime(when), 0
    minutes = offset // 60 if offset >= 0 else -((-offset) // 60)
    zone = (abs(minutes) // 60) * 100 + abs(minutes) % 60
    return (
        f"{_WEEKDAYS[local.tm_wday]}, {local.tm_mday:02d} {_MONTHS[local.tm_mon - 1]} "
        f"{local.tm_year:04d} {local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} "
        f"{'-' if minutes < 0 else '+'}{zone:04d}"
    )


def _warning_template(option_path: str | None) -> bytes | None:
    for path in (option_path, os.environ.get(QUOTAWARNMSG_ENV) or DEFAULT_QUOTAWARNMSG):
        if not path:
            continue
        try:
            with open(path, "rb") as template:
                return template.read()
        except OSError:
            continue
    return None


def deliver_quota_warning(maildir: str, percent: int, template_path: str | None) -> None:
    """Deliver the quota warning to ``maildir`` (its parent for a folder) if due.

    Due when the maildir is at least ``percent`` full, a template exists,
    and no warning was sent in the last 24 hours (``quotawarn``'s mtime).
    As in Courier, a maildir without a quota counts as 0% full.
    """
    for _ in range(16):
        if not os.path.exists(os.path.join(maildir, quota.FOLDER_MARKER)):
            break
        maildir = os.path.join(maildir, "..")
    if percent < 0:
        return
    state = quota.read_quota(maildir)
    if (state.percent if state is not None else 0) < percent:
        return
    template = _warning_template(template_path)
    if template is None:
        return
    stamp = os.path.join(maildir, QUOTAWARN_FILE)
    now = time.time()
    try:
        if os.stat(stamp).st_mtime + WARN_INTERVAL > now:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        os.write(fd, b"\0")
    except OSError:
        pass
    finally:
        os.close(fd)
    seconds = int(now)
    headers = (
        f"Date: {rfc822_date(seconds)}\n"
        f"Message-Id: <{seconds}.overquota@{os.uname().nodename}>\n"  # gethostname()
    ).encode("latin-1", "replace")
    message = headers + template
    try:
        staged = stage(maildir, message, suffix="_warn", mode=0o644)
    except (DeliveryFailed, MailboxNotFound):
        return
    # The warning counts when it fits; it is delivered regardless.
    reservation: quota.QuotaReservation | None = None
    if quota.counts_folder(maildir):
        try:
            reservation = quota.reserve(maildir, staged.size, 1)
        except (QuotaExceeded, DeliveryFailed):
            pass
    try:
        commit(staged)
    except (DeliveryFailed, MailboxNotFound):
        if reservation is not None:
            reservation.release()
        return
    if reservation is not None:
        reservation.commit()


class _TrackedReader:
    """Wraps stdin so that we know whether staging got as far as reading."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.started = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.started = True
            chunk = self.source.read(_CHUNK)
            if not chunk:
                return
            yield chunk


def _make_parents(maildir: str) -> None:
    """``mkdir -p`` of the maildir's parents, each 0700 as Courier makes them.

    (os.makedirs gives the intermediate directories 0777 & ~umask.)
    """
    parent = os.path.dirname(maildir.rstrip("/"))
    if not parent or os.path.isdir(parent):
        return
    _make_parents(parent)
    try:
        os.mkdir(parent, 0o700)
    except FileExistsError:
        pass


def _stage_stdin(maildir: str, auto_create: bool) -> StagedMessage:
    stdin = sys.stdin.buffer
    while True:
        reader = _TrackedReader(stdin)
        try:
            return stage(maildir, reader)
        except MailboxNotFound as exc:
            if auto_create:
                auto_create = False
                from postillion.maildir.layout import create_maildir  # -c only

                try:
                    _make_parents(maildir)
                    create_maildir(maildir, exist_ok=True)
                except OSError as mkdir_exc:
                    raise ToolExit(EX_TEMPFAIL, f"{maildir}: {mkdir_exc.strerror}\n") from exc
                continue
            raise ToolExit(EX_TEMPFAIL, f"{maildir}: No such file or directory\n") from exc
        except DeliveryFailed as exc:
            if reader.started:  # writing the message failed
                raise ToolExit(EX_IOERR, f"{exc}\n") from exc
            cause = exc.__cause__
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(exc)
            raise ToolExit(EX_TEMPFAIL, f"{maildir}: {reason}\n") from exc


def _link_unsized(staged: StagedMessage) -> None:
    """An empty message: Courier's name then has no ``,S=`` part."""
    name = staged.name
    final = (f"{name.seconds}.M{name.usec}P{name.pid}V{staged.dev:016X}I{staged.ino:016X}"
             f"{name.suffix}.{name.host}")
    try:
        os.link(staged.tmp_path, os.path.join(staged.folder, "new", final))
    except OSError as exc:
        discard(staged)
        raise ToolExit(EX_IOERR, f"{staged.tmp_path}: {exc.strerror}\n") from exc
    try:
        os.unlink(staged.tmp_path)
    except OSError:
        pass


def _commit(staged: StagedMessage) -> None:
    try:
        commit(staged)
    except (DeliveryFailed, MailboxNotFound) as exc:
        cause = exc.__cause__
        reason = cause.strerror if isinstance(cause, OSError) else str(exc)
        raise ToolExit(EX_IOERR, f"{staged.tmp_path}: {reason}\n") from exc


def _deliver(maildir: str, auto_create: bool, warn_percent: int,
             template_path: str | None, new_quota: str | None) -> None:
    try:
        st = os.fstat(0)
        known_size = st.st_size if stat.S_ISREG(st.st_mode) and st.st_size > 0 else 0
    except OSError:
        known_size = 0
    counted = quota.counts_folder(maildir)

    if known_size:
        # The size is known before reading: refuse early, as Courier does,
        # without writing the message anywhere.
        if counted:
            try:
                quota.reserve(maildir, known_size, 1, new_quota=new_quota).release()
            except QuotaExceeded as exc:
                if warn_percent >= 0:
                    deliver_quota_warning(maildir, warn_percent, template_path)
                raise ToolExit(EX_NOPERM, stdout=OVER_QUOTA_TEXT) from exc
        staged = _stage_stdin(maildir, auto_create)
        reservation = None
        if counted:
            try:
                reservation = quota.reserve(maildir, staged.size, 1)
            except DeliveryFailed as exc:
                discard(staged)
                raise ToolExit(EX_TEMPFAIL, f"{exc}\n") from exc
            except QuotaExceeded as exc:
                discard(staged)
                if warn_percent >= 0:
                    deliver_quota_warning(maildir, warn_percent, template_path)
                raise ToolExit(EX_NOPERM, stdout=OVER_QUOTA_TEXT) from exc
        try:
            _commit(staged)
        except BaseException:
            if reservation is not None:
                reservation.release()  # not delivered: not counted
            raise
        try:
            # Courier checks for the warning before counting this message.
            if warn_percent >= 0:
                deliver_quota_warning(maildir, warn_percent, template_path)
        finally:
            if reservation is not None:
                reservation.commit()
        return

    staged = _stage_stdin(maildir, auto_create)
    if staged.size == 0:
        _link_unsized(staged)  # Courier: no size, no quota check, no line
        return
    reservation = None
    if counted:
        try:
            reservation = quota.reserve(maildir, staged.size, 1, new_quota=new_quota)
        except DeliveryFailed as exc:
            discard(staged)
            raise ToolExit(EX_TEMPFAIL, f"{exc}\n") from exc
        except QuotaExceeded as exc:
            discard(staged)
            raise ToolExit(EX_TEMPFAIL, stdout=OVER_QUOTA_TEXT) from exc
    if reservation is None:
        _commit(staged)
    else:
        with reservation:
            _commit(staged)
            reservation.commit()
    if warn_percent >= 0:
        deliver_quota_warning(maildir, warn_percent, template_path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prog = sys.argv[0] if sys.argv and sys.argv[0] else "deliverquota"
    auto_create = False
    warn_percent = -1
    template_path: str | None = None
    i = 0
    while i < len(args):
        if args[i] == "-c":
            auto_create = True
        elif args[i] == "-w" and len(args) - i > 1:
            i += 1
            warn_percent = _atoi(args[i])
        elif args[i] == "-W" and len(args) - i > 1:
            i += 1
            template_path = args[i]
        else:
            break
        i += 1
    if i >= len(args) or not -1 <= warn_percent <= 100:
        sys.stderr.write(f"Usage: {prog} [-c] [-w percent] maildir\n")
        return EX_USAGE
    maildir = args[i]
    new_quota = args[i + 1] if i + 1 < len(args) else None
    try:
        _deliver(maildir, auto_create, warn_percent, template_path, new_quota)
    except ToolExit as done:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        sys.stdout.flush()
        return done.code
    except DeliveryFailed as exc:  # a recount that could not be written
        sys.stderr.write(f"{exc}\n")
        return EX_TEMPFAIL
    except OSError as exc:
        sys.stderr.write(f"{maildir}: {exc.strerror or exc}\n")
        return EX_TEMPFAIL if exc.errno != errno.EIO else EX_IOERR
    return EX_OK
