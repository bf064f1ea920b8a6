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
    #: The process serves one client and no other (``imapd`` on stdin and
    #: stdout, one process per connection as under couriertcpd): work that
    #: a server of many clients hands to a thread so that it never holds
    #: the event loop from the others runs on the loop itself, where it
    #: holds up nobody and costs no hand-over between threads (see
    #: Session.offload).
    one_client: bool = False
