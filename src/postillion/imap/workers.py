"""Worker processes for CPU-bound work over many message files.

Parsing and searching messages is Python code under one GIL: on a machine
with several CPUs a session process uses one.  A first FETCH of ENVELOPE
and BODYSTRUCTURE over a big folder (:mod:`postillion.imap.wireforms`)
and a SEARCH of message text (:mod:`postillion.imap.searchwork`) hand
chunks of file paths to this pool instead, and take back small results.

The pool starts on first use: a fork server that has imported only the
workers' tasks (:mod:`postillion.imap.filework`, and the parsers they
use; :mod:`postillion.imap.filesearch` too when a search starts it) and
the executor's worker loop, and one worker per CPU forked from it.
Forking the session process itself would copy its threads' locks in
whatever state they are.
Workers run as the process that started them: under the root model that
is the session worker, with the user's uid and gid only, so they read
exactly the files the session could.

Workers run at a lower scheduling priority (nice 10) than the session
processes: bulk work takes the CPUs the event loops leave.

``POSTILLION_WORKER_PROCESSES`` sets the number of workers (default: the
CPUs; 0: none, everything in the session process).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)

#: Environment: how many worker processes (default: the CPUs; 0: none).
ENV_WORKERS = "POSTILLION_WORKER_PROCESSES"
#: What submitting to, or waiting on, a pool that died raises.
BROKEN = (BrokenProcessPool, RuntimeError)
#: Imported once in the fork server, so that a new worker starts ready:
#: the wire-form tasks, the executor's worker loop (each worker imported
#: it after its fork, ~20 ms apiece) and this module (the initializer).
_PRELOAD = ["postillion.imap.filework", "concurrent.futures.process", __name__]

#: What the pool is to its users (tests give a stand-in).
Pool = concurrent.futures.Executor

_pool: concurrent.futures.ProcessPoolExecutor | None = None
_unavailable = False                  # the pool could not be made: do not try again
_lock = threading.Lock()


#: Workers run this much nicer than the sessions: bulk work must not take
#: the CPU from an event loop answering other clients (a NOOP during a
#: SEARCH TEXT over 100,000 messages waited up to 166 ms without it).
NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError):
        os.nice(NICENESS)


def count() -> int:
    """How many worker processes to use."""
    if _unavailable:
        return 0
    try:
        wanted = int(os.environ.get(ENV_WORKERS, ""))
    except ValueError:
        wanted = os.cpu_count() or 1
    return max(0, wanted)


def _ready() -> None:
    """A task that does nothing: its answer means the worker is up."""


def running() -> concurrent.futures.Executor | None:
    """The pool if it is up; never starts one."""
    return _pool


def pool(preload: Sequence[str] = ()) -> concurrent.futures.ProcessPoolExecutor | None:
    """The process's pool, None when it is to have none.  The first call
    starts the workers and waits for them: call it from a worker thread.
    ``preload``: modules of the caller's tasks for the fork server to
    import too (a pool started by another caller's first use imports them
    in each worker, with its first such task)."""
    global _pool, _unavailable
    with _lock:
        if _pool is None:
            workers = count()
            if workers == 0:
                return None
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([*_PRELOAD, *preload])
                made = concurrent.futures.ProcessPoolExecutor(
                    workers, mp_context=context, initializer=_lower_priority)
                # Start the fork server and every worker now, in the calling
                # thread: started by a first submit from the event loop, they
                # would hold it for the fork server's imports (~0.3 s).
                for waiting in [made.submit(_ready) for _ in range(workers)]:
                    waiting.result()
                _pool = made
            except (OSError, ValueError, ImportError, NotImplementedError, *BROKEN) as exc:
                # No fork server or semaphores here (a container without
                # /dev/shm): everything stays in the session process.
                log.warning("no worker processes (%r); working in-process", exc)
                _unavailable = True
                return None
        return _pool


def drop(broken: concurrent.futures.Executor) -> None:
    """Forget a pool that failed (the next use starts a new one)."""
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)
