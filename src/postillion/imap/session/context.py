"""What every session of one server shares: configuration, authentication,
the folder notifier and the hooks the server provides."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from postillion.auth import Account, AuthBackend
from postillion.config import Config


class Watch(Protocol):
    def close(self) -> None: ...


class FolderNotifier(Protocol):
    """postillion.server.notify.FolderNotifier, as the session uses it."""

    def watch(self, folder_dir: str, callback: Callable[[], None]) -> Watch: ...


def _stay(account: Account) -> None:
    """The default ``become``: already running as the right user."""


@dataclass
class ServerContext:
    config: Config
    auth: AuthBackend | None
    notifier: FolderNotifier
    tls_context: ssl.SSLContext | None = None
    hostname: str = field(default_factory=socket.gethostname)
    login_failure_delay: float = 5.0
    become: Callable[[Account], None] = _stay
