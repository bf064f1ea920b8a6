"""Connection limits: Courier's MAXDAEMONS and MAXPERIP, and the pre-login timeout.

Courier's couriertcpd enforces both limits before imaplogin starts; we do the
same before the session starts.  A refused connection gets one ``* BYE`` line
(couriertcpd just closes it; a line costs nothing and tells the user why) and
is closed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from postillion.config import Config

BYE_TOO_MANY = b"* BYE Too many connections, try again later.\r\n"
BYE_TOO_MANY_FROM_IP = b"* BYE Too many connections from your IP address.\r\n"
# Courier's text when a read times out (imaptoken.C).
BYE_INACTIVITY = b"* BYE Disconnected for inactivity.\r\n"


@dataclass
class ConnectionLimits:
    """Counts open connections, in total and per client address.

    ``0`` (or less) for a limit means none, as in couriertcpd.
    """

    max_connections: int = 40
    max_per_ip: int = 20
    active: int = 0
    per_ip: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_config(cls, config: Config) -> ConnectionLimits:
        return cls(config.get_int("MAXDAEMONS"), config.get_int("MAXPERIP"))

    def admit(self, ip: str) -> bytes | None:
        """Count a new connection from ``ip``; or the BYE line refusing it."""
        if 0 < self.max_connections <= self.active:
            return BYE_TOO_MANY
        if 0 < self.max_per_ip <= self.per_ip[ip]:
            return BYE_TOO_MANY_FROM_IP
        self.active += 1
        self.per_ip[ip] += 1
        return None

    def release(self, ip: str) -> None:
        """The connection admitted for ``ip`` has ended."""
        self.active = max(0, self.active - 1)
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]


def login_timeout(config: Config) -> float:
    """Seconds before an unauthenticated connection is dropped; 0 = never."""
    return float(max(0, config.get_int("POSTILLION_LOGIN_TIMEOUT")))


def login_failure_delay(config: Config) -> float:
    text = config.get_str("POSTILLION_LOGIN_FAILURE_DELAY").strip()
    try:
        value = float(text)
    except ValueError:
        return 5.0
    return value if value >= 0 else 5.0
