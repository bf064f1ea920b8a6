"""deliverquota runs once per message: what it imports is most of its cost.

A delivery takes about a millisecond; the interpreter's start takes ~8 ms
and, before these modules avoided them, ``dataclasses``, ``typing``,
``socket``, ``re`` and ``contextlib`` added ~20 ms more.  This pins that none
of them comes back on the delivery path (no timing: it looks at which
modules are loaded).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each costs 1-14 ms of start-up (dataclasses imports inspect, ast, dis, ...).
SLOW_MODULES = ("dataclasses", "inspect", "typing", "socket", "re", "contextlib", "collections")


@pytest.mark.parametrize("module", [
    "postillion.tools.deliverquota",
    "postillion.maildir.quota",
    "postillion.maildir.delivery",
])
def test_delivery_path_imports_nothing_slow(module: str) -> None:
    probe = (
        "import sys\n"
        f"before = set(sys.modules)\n"
        f"import {module}\n"
        f"print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    loaded = set(done.stdout.split())
    assert not loaded & set(SLOW_MODULES), (
        f"{module} now imports {sorted(loaded & set(SLOW_MODULES))}: "
        "import them lazily, or only under TYPE_CHECKING"
    )


# What the worker pool's fork server must not import before its first
# worker can start: the session, the folder cache and its uiddb, asyncio,
# the command parser and the response classes (together ~150 ms, during
# which a first FETCH ENVELOPE over a big folder is parsed by the session
# alone).
NOT_FOR_WORKERS = (
    "asyncio", "ssl", "postillion.imap.foldercache", "postillion.imap.wireforms",
    "postillion.imap.searchwork", "postillion.imap.session", "postillion.imap.selected",
    "postillion.imap.protocol.commands", "postillion.imap.protocol.responses",
    "postillion.imap.protocol.connection", "postillion.maildir.uiddb",
)
# ... nor, for a pool a FETCH starts, the search engine (~40 ms more).
SEARCH_ENGINE = ("postillion.imap.filesearch", "postillion.imap.search.evaluate",
                 "postillion.imap.search.facets")


def _preloaded(extra: tuple[str, ...]) -> set[str]:
    from postillion.imap import workers

    probe = (
        "import sys\n"
        f"for name in {[*workers._PRELOAD, *extra]!r}: __import__(name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return set(done.stdout.split())


def test_worker_preload_imports_only_what_workers_run() -> None:
    loaded = _preloaded(())
    # The tasks, and the executor's loop each worker would import after its fork.
    assert {"postillion.imap.filework", "concurrent.futures.process"} <= loaded
    assert not loaded & set(NOT_FOR_WORKERS), (
        f"the workers' preload now imports {sorted(loaded & set(NOT_FOR_WORKERS))}")
    assert not loaded & set(SEARCH_ENGINE), (
        f"a FETCH's pool now preloads {sorted(loaded & set(SEARCH_ENGINE))}")


def test_search_preload_adds_the_engine_alone() -> None:
    from postillion.imap import searchwork

    loaded = _preloaded(searchwork._TASKS)
    assert set(SEARCH_ENGINE) <= loaded
    assert not loaded & set(NOT_FOR_WORKERS), (
        f"a search's preload now imports {sorted(loaded & set(NOT_FOR_WORKERS))}")


@pytest.mark.parametrize("package", ["postillion.imap.protocol", "postillion.imap.search"])
def test_lazy_package_names_all_resolve(package: str) -> None:
    """Every name a lazily importing package lists is there on first use,
    and is the object its module defines."""
    probe = (
        "import importlib\n"
        f"package = importlib.import_module({package!r})\n"
        "for name in package.__all__:\n"
        "    value = getattr(package, name)\n"
        "    home = package._HOMES.get(name)\n"
        "    if home is None:\n"
        "        assert value is importlib.import_module(f'{package.__name__}.{name}'), name\n"
        "    else:\n"
        "        module = importlib.import_module(f'{package.__name__}.{home}')\n"
        "        assert value is getattr(module, name), name\n"
        "try:\n"
        "    package.no_such_name\n"
        "except AttributeError:\n"
        "    print('ok', len(package.__all__))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.startswith("ok ")
