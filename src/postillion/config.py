"""Courier-style configuration: /etc/courier/imapd, imapd-ssl, pop3d, authdaemonrc.

The files are shell fragments that Courier's start scripts source with
``set -a``, so we read them as a shell would for the forms they use:
``NAME=value`` lines, ``export NAME=value``, single and double quotes,
backslash escapes and backslash-newline continuations, ``$NAME`` and
``${NAME}`` expanded from variables set earlier (``imapd-ssl`` sees what
``imapd`` set), and ``#`` comments.  Anything else (commands, backticks) is
not run: it is reported and skipped.

Layering follows Courier: ``imapd`` then ``imapd-ssl`` (which overrides and
adds), and for the pre-authenticated mode, where Courier's imapd reads its
settings from the environment, :meth:`Config.with_environment` lets the
environment override the files.

Every variable we know has an entry in a table (name, type, default,
meaning); ``docs/config.md`` is generated from these tables
(``python -m postillion.config > docs/config.md``), so the documentation
cannot drift.  Variables not in the table are reported once.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

COURIER_CONFIG_DIR = "/etc/courier"


# --- the shell-fragment reader --------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_WORD_END = " \t\n;&|<>()"


@dataclass
class ShellParse:
    """The outcome of reading one file: assignments in order, and what was skipped."""

    assignments: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _CommandSubstitution(Exception):
    """A backtick or $( ... ): a command we will not run."""


class _Reader:
    def __init__(self, text: str, variables: dict[str, str], environ: Mapping[str, str],
                 result: ShellParse) -> None:
        self.text = text
        self.pos = 0
        self.variables = variables
        self.environ = environ
        self.result = result

    def line_number(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def lookup(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name]
        return self.environ.get(name, "")

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def skip_continuations(self) -> None:
        while self.text.startswith("\\\n", self.pos):
            self.pos += 2

    def expansion(self) -> str:
        """At a ``$``: the expanded value of ``$NAME`` / ``${NAME}``, or a literal ``$``."""
        self.pos += 1
        if self.peek() == "{":
            end = self.text.find("}", self.pos)
            name = self.text[self.pos + 1:end] if end > 0 else ""
            if end > 0 and _NAME.fullmatch(name):
                self.pos = end + 1
                return self.lookup(name)
            if end > 0 and ":-" in name and _NAME.fullmatch(name.partition(":-")[0]):
                self.pos = end + 1
                var, _, fallback = name.partition(":-")
                return self.lookup(var) or fallback
            self.result.problems.append(
                f"line {self.line_number()}: unsupported expansion left as is")
            return "$"
        match = _NAME.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return self.lookup(match.group())
        if self.peek() == "(":
            raise _CommandSubstitution
        return "$"

    def word(self) -> str:
        """One shell word from the current position, quotes removed, expanded."""
        out: list[str] = []
        while self.pos < len(self.text):
            self.skip_continuations()
            char = self.peek()
            if not char or char in _WORD_END:
                break
            if char == "\\":
                out.append(self.peek(1))
                self.pos += 2
            elif char == "'":
                end = self.text.find("'", self.pos + 1)
                if end < 0:
                    self.result.problems.append(
                        f"line {self.line_number()}: unterminated single quote")
                    end = len(self.text)
                out.append(self.text[self.pos + 1:end])
                self.pos = end + 1
            elif char == '"':
                self.pos += 1
                out.append(self.double_quoted())
            elif char == "$":
                out.append(self.expansion())
            elif char == "`":
                raise _CommandSubstitution
            else:
                out.append(char)
                self.pos += 1
        return "".join(out)

    def double_quoted(self) -> str:
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                self.result.problems.append(
                    f"line {self.line_number()}: unterminated double quote")
                return "".join(out)
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                following = self.peek(1)
                if following == "\n":
                    self.pos += 2
                    continue
                if following in ('$', '`', '"', "\\"):
                    out.append(following)
                    self.pos += 2
                    continue
                out.append(char)
                self.pos += 1
            elif char == "$":
                out.append(self.expansion())
            else:
                out.append(char)
                self.pos += 1

    def skip_blanks(self) -> None:
        while True:
            self.skip_continuations()
            if self.peek() in (" ", "\t"):
                self.pos += 1
            else:
                return

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def statement(self) -> None:
        """One simple command: assignments, optionally after ``export``."""
        exporting = False
        while True:
            self.skip_blanks()
            char = self.peek()
            if not char or char in "\n;":
                return
            if char == "#":
                self.skip_line()
                return
            match = _ASSIGNMENT.match(self.text, self.pos)
            if match:
                self.pos = match.end()
                try:
                    value = self.word()
                except _CommandSubstitution:
                    self.result.problems.append(
                        f"line {self.line_number()}: command substitution not run, "
                        f"{match.group(1)} not set")
                    self.skip_line()
                    return
                self.variables[match.group(1)] = value
                self.result.assignments.append((match.group(1), value))
                continue
            start = self.pos
            line = self.line_number()
            try:
                word = self.word()
            except _CommandSubstitution:
                word = "$(...)"
            if word == "export" and not exporting and self.pos > start:
                exporting = True
                continue
            if exporting and _NAME.fullmatch(word):
                continue  # "export NAME": already a variable of ours
            self.result.problems.append(f"line {line}: not an assignment, skipped: {word!r}")
            self.skip_line()
            return

    def run(self) -> None:
        while self.pos < len(self.text):
            self.statement()
            if self.peek() in ("\n", ";"):
                self.pos += 1


def parse_shell(text: str, variables: dict[str, str] | None = None,
                environ: Mapping[str, str] | None = None) -> ShellParse:
    """Read a Courier config fragment.  ``variables`` (updated in place) holds what
    earlier files set; ``$NAME`` not set there comes from ``environ`` (default
    empty, as Courier's start scripts run under ``env -i``)."""
    result = ShellParse()
    _Reader(text, variables if variables is not None else {}, environ or {}, result).run()
    return result


# --- the variables we know --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Variable:
    """One configuration variable: how to read it and what it means."""

    name: str
    type: str          # str, int, octal, bool, words
    default: str       # value when set nowhere ("" = unset/empty)
    meaning: str
    packaged: str | None = None   # value in Debian's packaged file, if it differs


_CAPS = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
         "SORT QUOTA IDLE")
_CAPS_ORIG = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
              "SORT QUOTA AUTH=CRAM-MD5 AUTH=CRAM-SHA1 AUTH=CRAM-SHA256 IDLE")

_COMMON_SERVER = [
    Variable("ADDRESS", "str", "0", "Listen address; 0 = all addresses."),
    Variable("TCPDOPTS", "str", "-nodnslookup -noidentlookup",
             "couriertcpd flags; read for compatibility, not used by Postillion."),
    Variable("DEFDOMAIN", "str", "", "Domain appended to login names that have none "
             "(e.g. @example.com)."),
    Variable("PROXY_HOSTNAME", "str", "", "This host's name, for proxy decisions "
             "(mailhost= account option)."),
    Variable("AUTH_MKHOMEDIR_SKEL", "str", "",
             "Skeleton directory for creating a missing home at login; unset = never."),
    Variable("MAILDIRPATH", "str", "Maildir",
             "Maildir under the home directory for accounts without their own maildir."),
    Variable("POSTILLION_AUTH", "str", "userdb",
             "Postillion: the account backend: userdb, userdb:PATH or sqlite:PATH."),
]

def _ssl_variables(service: str, sslport: str, cachefile: str) -> tuple[Variable, ...]:
    """The TLS variables of ``<service>-ssl``, which imapd-ssl and pop3d-ssl share.

    The cache file names are crossed in Debian's packaged files (imapd-ssl
    names the pop3 cache and pop3d-ssl the imap one); the defaults follow them.
    """
    return (
        Variable("SSLPORT", "str", sslport, "Implicit-TLS port(s)."),
        Variable("SSLADDRESS", "str", "0", "Implicit-TLS listen address."),
        Variable("SSLPIDFILE", "str", f"/run/courier/{service}-ssl.pid", "Process id file."),
        Variable("SSLLOGGEROPTS", "str", f"-name={service}-ssl",
                 "courierlogger flags; not used."),
        Variable("COURIERTLS", "str", "/usr/bin/couriertls", "Courier's TLS helper; not used."),
        Variable("TLS_PRIORITY", "str", "NORMAL",
                 "GnuTLS priority string (mapped to ciphers)."),
        Variable("TLS_PROTOCOL", "str", "", "Minimum TLS protocol version."),
        Variable("TLS_STARTTLS_PROTOCOL", "str", "", "TLS protocol for STARTTLS.",
                 packaged="$TLS_PROTOCOL"),
        Variable("TLS_CIPHER_LIST", "str", "", "OpenSSL cipher list."),
        Variable("TLS_MIN_DH_BITS", "int", "0", "Minimum Diffie-Hellman size; 0 = library's."),
        Variable("TLS_TIMEOUT", "int", "0", "Reserved by Courier; not implemented."),
        Variable("TLS_CERTFILE", "str", f"/etc/courier/{service}.pem",
                 "Server certificate and key."),
        Variable("TLS_PRIVATE_KEYFILE", "str", "", "Separate private key file."),
        Variable("TLS_DHPARAMS", "str", "/etc/courier/dhparams.pem", "DH parameters file."),
        Variable("TLS_TRUSTCERTS", "str", "/etc/ssl/certs/ca-certificates.crt",
                 "Trusted CAs for client certificates."),
        Variable("TLS_VERIFYPEER", "str", "NONE",
                 "Client certificates: NONE, PEER, REQUIREPEER."),
        Variable("TLS_EXTERNAL", "str", "", "Certificate field used for AUTH=EXTERNAL."),
        Variable("TLS_CACHEFILE", "str", f"/var/lib/courier/{cachefile}",
                 "TLS session cache file."),
        Variable("TLS_CACHESIZE", "int", "524288", "TLS session cache size in bytes."),
    )


IMAPD_VARIABLES: tuple[Variable, ...] = (
    *_COMMON_SERVER,
    Variable("PORT", "str", "143", "Listen port(s): a comma list, ip.port allowed."),
    Variable("MAXDAEMONS", "int", "40", "Maximum concurrent connections."),
    Variable("MAXPERIP", "int", "20", "Maximum connections from one IP address."),
    Variable("PIDFILE", "str", "/run/courier/imapd.pid", "Process id file."),
    Variable("IMAPACCESSFILE", "str", "/etc/courier/imapaccess", "IP access rules file."),
    Variable("LOGGEROPTS", "str", "-name=imapd", "courierlogger flags; not used."),
    # Unset, the next three take Debian's packaged values, not Courier's bare
    # ones (IMAP4rev1 only, no keywords, no ACL): a tunnel over ssh usually
    # runs with no configuration, and its clients should not lose UIDPLUS,
    # NAMESPACE or keywords.  Setting a variable still takes a feature away.
    Variable("IMAP_CAPABILITY", "words", _CAPS,
             "Base CAPABILITY list before STARTTLS (unset: Debian's packaged list)."),
    Variable("IMAP_CAPABILITY_ORIG", "words", _CAPS_ORIG,
             "Reference copy kept for the web admin tool; not used."),
    Variable("IMAP_CAPABILITY_TLS", "words", "",
             "CAPABILITY after STARTTLS (or on the TLS port); empty = IMAP_CAPABILITY.",
             packaged="$IMAP_CAPABILITY AUTH=PLAIN"),
    Variable("IMAP_CAPABILITY_TLS_ORIG", "words", "", "Reference copy; not used.",
             packaged="$IMAP_CAPABILITY_ORIG AUTH=PLAIN"),
    Variable("IMAP_KEYWORDS", "int", "1",
             "Custom keywords: 0 off, 1 on, 2 on with the slower, safer algorithm."),
    Variable("IMAP_ACL", "bool", "1", "Announce ACL and ACL2=UNION."),
    Variable("SMAP_CAPABILITY", "str", "", "Courier's SMAP protocol (SMAP1); not supported."),
    Variable("IMAP_PROXY", "bool", "0", "Proxy logins to the account's mailhost."),
    Variable("IMAP_PROXY_FOREIGN", "bool", "0", "Proxy to non-Courier servers too."),
    Variable("IMAP_IDLE_TIMEOUT", "int", "60", "Seconds between checks for new mail in IDLE."),
    Variable("IMAP_MAILBOX_SANITY_CHECK", "bool", "1",
             "Refuse a session whose home/maildir owner differs from the account's uid/gid."),
    Variable("IMAP_DISABLETHREADSORT", "bool", "0",
             "Reject THREAD and SORT (they stay advertised)."),
    Variable("IMAP_CHECK_ALL_FOLDERS", "bool", "0",
             "Check every folder for new mail, not only INBOX."),
    Variable("IMAP_OBSOLETE_CLIENT", "bool", "0",
             "Send \\NoInferiors where \\HasNoChildren is meant."),
    Variable("IMAP_UMASK", "octal", "022", "umask of the session process."),
    Variable("IMAP_ULIMITD", "int", "131072", "Data segment limit in KB; 0 = none."),
    Variable("IMAP_USELOCKS", "bool", "1", "Dot-lock folders for concurrent access."),
    Variable("IMAP_SHAREDINDEXFILE", "str", "/etc/courier/shared/index",
             "Virtual shared folder index (sharedgroup=X reads this name + X)."),
    Variable("IMAP_SHAREDMUNGENAMES", "bool", "0",
             "Shared index names: '.' and '/' become '\\:' and '\\;' instead of a space."),
    Variable("IMAP_ENHANCEDIDLE", "bool", "0",
             "Courier: real-time IDLE through FAM. Postillion always pushes through inotify."),
    Variable("IMAP_TRASHFOLDERNAME", "str", "Trash", "Name of the trash folder."),
    Variable("IMAP_EMPTYTRASH", "str", "Trash:7",
             "folder:days list: messages older than days are purged at login."),
    Variable("IMAP_MOVE_EXPUNGE_TO_TRASH", "bool", "0", "EXPUNGE moves messages to Trash."),
    Variable("IMAP_LOG_DELETIONS", "bool", "0", "Log each deleted message."),
    Variable("IMAPDEBUGFILE", "str", "", "Per-user protocol debug log file name."),
    Variable("OUTBOX", "str", "", "Folder whose messages are sent as mail (e.g. .Outbox)."),
    Variable("SENDMAIL", "str", "/usr/sbin/sendmail", "Mailer used for OUTBOX."),
    Variable("HEADERFROM", "str", "X-IMAP-Sender", "Header recording the sender of OUTBOX mail."),
    Variable("OUTBOX_MULTIPLE_SEND", "bool", "0", "Allow sending the same message again."),
    Variable("IMAP_ID_FIELDS", "int", "0", "Which fields the ID command reveals (bit mask)."),
    Variable("IMAPDSTART", "bool", "YES", "Start the plain IMAP listener."),
    *_ssl_variables("imapd", "993", "couriersslpop3cache"),
    Variable("IMAPDSSLSTART", "bool", "YES", "Start the IMAPS listener."),
    Variable("IMAPDSTARTTLS", "bool", "YES", "Offer STARTTLS on the plain port."),
    Variable("IMAP_TLS_REQUIRED", "bool", "0", "LOGINDISABLED until STARTTLS."),
    Variable("POSTILLION_LOGIN_TIMEOUT", "int", "60",
             "Postillion: seconds a connection may stay unauthenticated (Courier's "
             "imaplogin alarm); 0 = no limit."),
    Variable("POSTILLION_LOGIN_FAILURE_DELAY", "str", "5",
             "Postillion: seconds (may be fractional) every failed LOGIN/AUTHENTICATE "
             "waits before its NO, as Courier's fixed 5."),
    Variable("POSTILLION_ALLOW_ROOT_LOGIN", "bool", "0",
             "Postillion: serve accounts with uid 0 (refused by default)."),
)

POP3D_VARIABLES: tuple[Variable, ...] = (
    *_COMMON_SERVER,
    Variable("PORT", "str", "110", "Listen port(s)."),
    Variable("MAXDAEMONS", "int", "40", "Maximum concurrent connections."),
    Variable("MAXPERIP", "int", "4", "Maximum connections from one IP address."),
    Variable("PIDFILE", "str", "/run/courier/pop3d.pid", "Process id file."),
    Variable("LOGGEROPTS", "str", "-name=pop3d", "courierlogger flags; not used."),
    Variable("POP3AUTH", "words", "", "SASL mechanisms advertised; empty = no SASL."),
    Variable("POP3AUTH_ORIG", "words", "PLAIN LOGIN CRAM-MD5 CRAM-SHA1 CRAM-SHA256",
             "Reference copy; not used."),
    Variable("POP3AUTH_TLS", "words", "", "Mechanisms advertised after STLS."),
    Variable("POP3AUTH_TLS_ORIG", "words", "LOGIN PLAIN", "Reference copy; not used."),
    Variable("POP3_PROXY", "bool", "0", "Proxy logins to the account's mailhost."),
    Variable("POP3_LOG_DELETIONS", "bool", "0", "Log each deleted message."),
    Variable("POP3DSTART", "bool", "YES", "Start the POP3 listener."),
    Variable("MIME_UNICODE_MESSAGE_TYPE", "str", "message/global",
             "Wrapper type for UTF-8 mail sent to clients without UTF-8 support."),
    *_ssl_variables("pop3d", "995", "couriersslimapcache"),
    Variable("POP3DSSLSTART", "bool", "YES", "Start the POP3S listener."),
    Variable("POP3_STARTTLS", "bool", "YES", "Offer STLS on the plain port."),
    Variable("POP3_TLS_REQUIRED", "bool", "0", "Refuse logins until STLS."),
)

AUTHDAEMONRC_VARIABLES: tuple[Variable, ...] = (
    Variable("authmodulelist", "words", "authuserdb",
             "Authentication modules in order; Postillion maps authuserdb to its userdb "
             "backend.", packaged="authpam"),
    Variable("authmodulelistorig", "words", "", "Reference copy; not used."),
    Variable("daemons", "int", "5", "Number of authdaemond processes; not used."),
    Variable("authdaemonvar", "str", "/run/courier/authdaemon",
             "authdaemond socket directory; not used."),
    Variable("DEBUG_LOGIN", "int", "0",
             "Login debugging: 1 logs steps; 2 would log passwords - Postillion never does."),
    Variable("DEFAULTOPTIONS", "str", "", "Options added to every account's own options."),
    Variable("LOGGEROPTS", "str", "", "courierlogger flags; not used."),
    Variable("LDAP_TLS", "bool", "0", "Use TLS to the LDAP server."),
    Variable("LDAPTLS_CACERT", "str", "", "CA certificate for LDAP TLS."),
    Variable("LDAPTLS_REQCERT", "str", "", "LDAP server certificate check."),
    Variable("LDAPTLS_CERT", "str", "", "Client certificate for LDAP TLS."),
    Variable("LDAPTLS_KEY", "str", "", "Client key for LDAP TLS."),
)

# Names that are known by pattern: AUTHSERVICE<port>=service.
_PATTERNS = (re.compile(r"AUTHSERVICE[0-9]+"),)

_TRUE = {"1", "yes", "y", "true", "on"}
_FALSE = {"0", "no", "n", "false", "off", ""}


class Config:
    """Settings read from Courier-style files, typed through a variable table."""

    def __init__(self, variables: Iterable[Variable], values: Mapping[str, str] | None = None,
                 problems: Iterable[str] = ()) -> None:
        self.table: dict[str, Variable] = {v.name: v for v in variables}
        self.values: dict[str, str] = dict(values or {})
        self.problems: list[str] = list(problems)
        self._reported: set[str] = set()

    # -- loading
    def read_file(self, path: str | os.PathLike[str],
                  environ: Mapping[str, str] | None = None) -> bool:
        """Layer one file over what is already set; False if it does not exist."""
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return False
        parsed = parse_shell(text, self.values, environ)
        self.problems.extend(f"{path}: {problem}" for problem in parsed.problems)
        return True

    def with_environment(self, environ: Mapping[str, str]) -> Config:
        """A copy where known variables set in ``environ`` override the files."""
        values = dict(self.values)
        for name, value in environ.items():
            if self.is_known(name):
                values[name] = value
        return Config(self.table.values(), values, self.problems)

    # -- lookups
    def is_known(self, name: str) -> bool:
        return name in self.table or any(p.fullmatch(name) for p in _PATTERNS)

    def unknown(self) -> list[str]:
        return [name for name in self.values if not self.is_known(name)]

    def report_unknown(self, logger: logging.Logger = log) -> list[str]:
        """Log each unknown variable once (per Config); returns the newly reported."""
        new = [name for name in self.unknown() if name not in self._reported]
        for name in new:
            logger.warning("config: unknown variable %s ignored", name)
            self._reported.add(name)
        return new

    def raw(self, name: str) -> str | None:
        """The value as set (after quoting and expansion), None if set nowhere."""
        return self.values.get(name)

    def _text(self, name: str) -> str:
        value = self.values.get(name)
        if value is not None:
            return value
        variable = self.table.get(name)
        if variable is None:
            raise KeyError(f"unknown configuration variable {name}")
        return variable.default

    def _bad(self, name: str, value: str, kind: str) -> None:
        key = f"bad:{name}"
        if key not in self._reported:
            self._reported.add(key)
            log.warning("config: %s=%r is not a valid %s; using the default", name, value, kind)

    def get_str(self, name: str) -> str:
        return self._text(name)

    def get_int(self, name: str) -> int:
        text = self._text(name).strip()
        try:
            return int(text, 8) if self.table.get(name, _STR).type == "octal" else int(text)
        except ValueError:
            self._bad(name, text, "number")
            default = self.table[name].default
            return int(default, 8) if self.table[name].type == "octal" else int(default or 0)

    def get_bool(self, name: str) -> bool:
        text = self._text(name).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text.isdigit():
            return int(text) != 0
        self._bad(name, text, "yes/no value")
        return self.table[name].default.lower() in _TRUE

    def get_words(self, name: str) -> list[str]:
        return self._text(name).split()


_STR = Variable("", "str", "", "")

# Which files, in order, make up each server's configuration.
FILES = {
    "imapd": (("imapd", "imapd-ssl"), IMAPD_VARIABLES),
    "pop3d": (("pop3d", "pop3d-ssl"), POP3D_VARIABLES),
    "authdaemonrc": (("authdaemonrc",), AUTHDAEMONRC_VARIABLES),
}


def load(kind: str, directory: str | os.PathLike[str] = COURIER_CONFIG_DIR,
         environ: Mapping[str, str] | None = None) -> Config:
    """The configuration of ``kind`` (imapd, pop3d, authdaemonrc) from its files
    in ``directory``, later files overriding earlier ones.  Missing files are
    fine (every variable has a default).  ``environ`` overrides the files, as in
    Courier's pre-authenticated mode; pass ``os.environ`` for that."""
    names, table = FILES[kind]
    config = Config(table)
    for name in names:
        config.read_file(Path(directory, name))
    return config.with_environment(environ) if environ is not None else config


# --- documentation ---------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else ""


def render_markdown() -> str:
    """docs/config.md, generated from the variable tables."""
    parts = [
        "# Configuration variables\n",
        "\n",
        "Generated by `python -m postillion.config` from the tables in\n",
        "`src/postillion/config.py`; do not edit by hand.  See `src/postillion/config.py`\n",
        "for the file format (Courier's shell-style `NAME=value` files).\n",
        "\n",
        "*Default* is the value used when a variable is set nowhere; *Debian* is the\n",
        "value in Debian's packaged file where that differs.  Types: `str`, `int`,\n",
        "`octal`, `bool` (1/0, YES/NO, true/false), `words` (space-separated list).\n",
    ]
    titles = {
        "imapd": "/etc/courier/imapd, then imapd-ssl",
        "pop3d": "/etc/courier/pop3d, then pop3d-ssl",
        "authdaemonrc": "/etc/courier/authdaemonrc",
    }
    for kind, (_, table) in FILES.items():
        parts.append(f"\n## {titles[kind]}\n\n")
        parts.append("| Name | Type | Default | Debian | Meaning |\n")
        parts.append("| --- | --- | --- | --- | --- |\n")
        for variable in table:
            default = f"`{_cell(variable.default)}`" if variable.default else "(empty)"
            packaged = f"`{_cell(variable.packaged)}`" if variable.packaged else ""
            parts.append(f"| `{variable.name}` | {variable.type} | {default} | {packaged} "
                         f"| {_cell(variable.meaning)} |\n")
    parts.append("\n`AUTHSERVICE<port>=service` (e.g. `AUTHSERVICE143=imap`) names the "
                 "authentication service of one port.\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
