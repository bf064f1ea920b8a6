"""Accounts as authentication backends return them, with Courier's options.

Courier keeps per-account switches in one ``options`` string:
``name=value`` or bare ``name`` items separated by commas, e.g.
``group=staff,group=dev,sharedgroup=example.com,disableimap=1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_MAILDIR = "Maildir"  # Courier's MAILDIRPATH default, relative to home


def option_is_true(value: str | None) -> bool:
    """Courier's reading of a numeric option: its integer, or true for a bare
    name or a value starting with t/T/y/Y ("true", "yes"); absent is false."""
    if value is None:
        return False
    digits = ""
    text = value.strip()
    sign = 1
    if text[:1] in "+-" and text:
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    for char in text:
        if not char.isdigit():
            break
        digits += char
    number = sign * int(digits) if digits else 0
    if number == 0:
        return value[:1] in ("", "t", "T", "y", "Y")
    return True


@dataclass(frozen=True, slots=True)
class AccountOptions:
    """A parsed Courier options string; ``raw`` is kept verbatim for round trips."""

    raw: str = ""
    items: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> AccountOptions:
        if not raw:
            return cls()
        items: list[tuple[str, str | None]] = []
        for part in raw.split(","):
            if not part:
                continue
            name, eq, value = part.partition("=")
            items.append((name, value if eq else None))
        return cls(raw, tuple(items))

    def get(self, name: str) -> str | None:
        """The first value of ``name`` ("" for a bare name), None when absent."""
        for key, value in self.items:
            if key == name:
                return "" if value is None else value
        return None

    def get_all(self, name: str) -> list[str]:
        return [("" if value is None else value) for key, value in self.items if key == name]

    def flag(self, name: str) -> bool:
        return option_is_true(self.get(name))

    def as_dict(self) -> dict[str, str]:
        """Every option with its first value (use ``groups`` for ``group=``)."""
        result: dict[str, str] = {}
        for key, value in self.items:
            result.setdefault(key, "" if value is None else value)
        return result

    @property
    def groups(self) -> tuple[str, ...]:
        """Every ``group=`` value: ACL group identifiers (not Unix groups)."""
        return tuple(self.get_all("group"))

    @property
    def sharedgroup(self) -> str | None:
        """``sharedgroup=X``: read the shared index ``index`` + X instead of the main one."""
        return self.get("sharedgroup")

    @property
    def disableshared(self) -> bool:
        return self.flag("disableshared")

    @property
    def mailhost(self) -> str | None:
        """``mailhost=``: the server that holds the mailbox (proxy mode)."""
        return self.get("mailhost")

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True, slots=True)
class Account:
    """One mail account.  ``maildir`` is always absolute."""

    login: str
    uid: int
    gid: int
    home: str
    maildir: str
    quota: str | None = None
    options: AccountOptions = field(default_factory=AccountOptions)

    def disabled_for(self, service: str, secure: bool = True) -> bool:
        """Is ``service`` (imap, pop3, ...) switched off for this account?

        ``disable<service>`` always counts; ``disableinsecure<service>`` counts
        on a connection without TLS (``secure=False``), as in Courier.
        """
        if self.options.flag("disable" + service):
            return True
        return not secure and self.options.flag("disableinsecure" + service)


def resolve_maildir(home: str, mail: str | None, default: str = DEFAULT_MAILDIR) -> str:
    """The absolute maildir: ``mail`` if set (relative paths are under home,
    where Courier's servers chdir before opening it), else ``home/default``."""
    path = mail if mail else default
    if os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(home, path))
