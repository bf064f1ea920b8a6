"""The folder notifier: changes by other processes reach the watchers, once per burst."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from postillion.maildir.layout import create_maildir
from postillion.server import notify
from postillion.server.notify import (
    FolderNotifier,
    InotifyNotifier,
    PollingNotifier,
    make_notifier,
)
from tests.conftest import courier_program

MESSAGE = b"From: a@example.com\nSubject: hi\n\nbody\n"


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    path = tmp_path / "Maildir"
    create_maildir(str(path))
    return path


async def _wait(event: asyncio.Event) -> None:
    # Generous: this bounds a hang, it is not a timing assertion.
    await asyncio.wait_for(event.wait(), 30)


def _deliver_in_other_process(folder: Path) -> None:
    code = ("import sys; from postillion.maildir.delivery import deliver; "
            "deliver(sys.argv[1], sys.stdin.buffer.read())")
    subprocess.run([sys.executable, "-c", code, str(folder)], input=MESSAGE, check=True)


def test_delivery_by_another_process_wakes_the_watcher(maildir: Path) -> None:
    async def scenario() -> None:
        notifier = make_notifier()
        assert notifier.mode == "inotify"
        woke = asyncio.Event()
        notifier.watch(str(maildir), woke.set)
        await asyncio.to_thread(_deliver_in_other_process, maildir)
        await _wait(woke)
        notifier.close()

    asyncio.run(scenario())


def test_courier_deliverquota_wakes_the_watcher(maildir: Path) -> None:
    deliverquota = courier_program("deliverquota")

    async def scenario() -> None:
        notifier = make_notifier()
        woke = asyncio.Event()
        notifier.watch(str(maildir), woke.set)
        await asyncio.to_thread(subprocess.run, [deliverquota, str(maildir)],
                                input=MESSAGE, check=True)
        await _wait(woke)
        notifier.close()

    asyncio.run(scenario())


def test_flag_rename_in_cur_wakes_the_watcher(maildir: Path) -> None:
    (maildir / "cur" / "1.M1P1.host:2,").write_bytes(MESSAGE)

    async def scenario() -> None:
        notifier = make_notifier()
        woke = asyncio.Event()
        notifier.watch(str(maildir), woke.set)
        os.rename(maildir / "cur" / "1.M1P1.host:2,", maildir / "cur" / "1.M1P1.host:2,S")
        await _wait(woke)
        notifier.close()

    asyncio.run(scenario())


class _Counted:
    """A watcher callback that counts its calls and wakes a waiter."""

    def __init__(self) -> None:
        self.calls = 0
        self.woke = asyncio.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.woke.set()


def test_a_burst_is_one_callback_per_watcher(maildir: Path) -> None:
    async def scenario() -> None:
        notifier = make_notifier()
        seen = _Counted()
        notifier.watch(str(maildir), seen)
        for n in range(5):
            (maildir / "new" / f"{n}.M1P1.host").write_bytes(MESSAGE)
        await _wait(seen.woke)
        # The burst happened before the first callback could run; nothing follows it.
        await asyncio.sleep(0.3)
        assert seen.calls == 1
        notifier.close()

    asyncio.run(scenario())


def test_the_first_change_is_told_at_once_and_later_ones_at_the_coalescing_pace(
        maildir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change after a quiet spell reaches the watchers as soon as its
    events are read (no timer: every millisecond before it is IDLE push
    latency); changes that follow within the coalescing time wait for the
    rest of it and are told once.  (Shown with a coalescing time of a
    minute: the first callback must come before it runs out.)"""
    monkeypatch.setattr(notify, "COALESCE_SECONDS", 60.0)

    async def scenario() -> None:
        notifier = make_notifier()
        assert notifier.mode == "inotify"
        seen = _Counted()
        notifier.watch(str(maildir), seen)
        (maildir / "new" / "1.M1P1.host").write_bytes(MESSAGE)
        await _wait(seen.woke)
        for n in range(2, 5):
            (maildir / "new" / f"{n}.M1P1.host").write_bytes(MESSAGE)
        await asyncio.sleep(0.3)
        assert seen.calls == 1  # the next round waits for the minute to pass
        notifier.close()

    asyncio.run(scenario())


def test_many_watchers_of_one_folder_share_one_kernel_watch(maildir: Path) -> None:
    async def scenario() -> None:
        notifier = make_notifier()
        assert isinstance(notifier, InotifyNotifier)
        events = [asyncio.Event() for _ in range(50)]
        watches = [notifier.watch(str(maildir), e.set) for e in events]
        # The folder, new/ and cur/: one set for all fifty sessions.
        assert notifier.kernel_watch_count == 3
        assert notifier.watched_folders == 1
        (maildir / "new" / "1.M1P1.host").write_bytes(MESSAGE)
        for event in events:
            await _wait(event)
        for watch in watches[:-1]:
            watch.close()
        assert notifier.kernel_watch_count == 3
        watches[-1].close()
        assert notifier.kernel_watch_count == 0
        assert notifier.watched_folders == 0
        notifier.close()

    asyncio.run(scenario())


def test_closed_watch_hears_nothing(maildir: Path) -> None:
    async def scenario() -> None:
        notifier = make_notifier()
        heard: list[str] = []
        other = asyncio.Event()
        closed = notifier.watch(str(maildir), lambda: heard.append("closed"))
        notifier.watch(str(maildir), other.set)
        closed.close()
        (maildir / "new" / "1.M1P1.host").write_bytes(MESSAGE)
        await _wait(other)
        assert heard == []
        notifier.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["delete", "rename"])
def test_folder_deleted_or_renamed_gives_one_final_callback(maildir: Path, how: str) -> None:
    folder = maildir / ".Work"
    create_maildir(str(folder), folder=True)

    async def scenario() -> None:
        notifier = make_notifier()
        calls: list[int] = []
        woke = asyncio.Event()

        def seen() -> None:
            calls.append(1)
            woke.set()

        watch = notifier.watch(str(folder), seen)
        if how == "delete":
            shutil.rmtree(folder)
        else:
            os.rename(folder, maildir / ".Moved")
        await _wait(woke)
        await asyncio.sleep(0.3)
        assert calls == [1]
        assert not watch.active
        assert notifier.watched_folders == 0
        watch.close()   # harmless after the end
        # The same name watched again starts afresh once it exists again.
        create_maildir(str(folder), folder=True)
        again = asyncio.Event()
        notifier.watch(str(folder), again.set)
        (folder / "new" / "1.M1P1.host").write_bytes(MESSAGE)
        await _wait(again)
        notifier.close()

    asyncio.run(scenario())


def test_watching_a_missing_folder_is_quiet(tmp_path: Path) -> None:
    async def scenario() -> None:
        notifier = make_notifier()
        watch = notifier.watch(str(tmp_path / "nothing"), lambda: None)
        watch.close()
        notifier.close()

    asyncio.run(scenario())


def test_a_failing_callback_does_not_silence_the_others(maildir: Path) -> None:
    async def scenario() -> None:
        notifier = make_notifier()
        woke = asyncio.Event()

        def broken() -> None:
            raise RuntimeError("session bug")

        notifier.watch(str(maildir), broken)
        notifier.watch(str(maildir), woke.set)
        (maildir / "new" / "1.M1P1.host").write_bytes(MESSAGE)
        await _wait(woke)
        notifier.close()

    asyncio.run(scenario())


def test_polling_fallback_sees_deliveries_flag_changes_and_removal(maildir: Path) -> None:
    async def scenario() -> None:
        notifier: FolderNotifier = make_notifier(enhanced=False, poll_interval=0.05)
        assert isinstance(notifier, PollingNotifier)
        woke = asyncio.Event()
        notifier.watch(str(maildir), woke.set)
        await asyncio.to_thread(_deliver_in_other_process, maildir)
        await _wait(woke)
        woke.clear()
        name = os.listdir(maildir / "new")[0]
        os.rename(maildir / "new" / name, maildir / "cur" / (name + ":2,S"))
        await _wait(woke)
        woke.clear()
        shutil.rmtree(maildir)
        await _wait(woke)
        assert notifier.watched_folders == 0
        notifier.close()

    asyncio.run(scenario())


def test_packaged_courier_settings_still_push_through_inotify(tmp_path: Path) -> None:
    """Debian's imapd has IMAP_ENHANCEDIDLE=0 (no FAM); we push all the same."""
    from postillion.config import Config, load
    from postillion.server.notify import InotifyNotifier, notifier_for

    (tmp_path / "imapd").write_text("IMAP_ENHANCEDIDLE=0\nIMAP_IDLE_TIMEOUT=60\n")
    config: Config = load("imapd", tmp_path)
    notifier = notifier_for(config)
    try:
        assert isinstance(notifier, InotifyNotifier)
    finally:
        notifier.close()
