"""The command rows' servers take turns run by run.

A shared virtual machine speeds up and slows down by tens of per cent over
minutes; timing every run of one server before the next server's would put
that drift into the ratios.  These tests replace the one timed cold/warm
pair (``_command_run``) with a recorder and check the order the benchmark
asks for, and what becomes of each server's figures and failures.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from bench.imap import measure
from bench.imap.measure import COMMANDS, SelectTooSlow


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def _run(monkeypatch: pytest.MonkeyPatch, servers: list[str], runs: int,
         answer: Any) -> tuple[list[tuple[str, str]], dict[str, measure.CommandResult]]:
    calls: list[tuple[str, str]] = []

    async def recorded(server: _Named, master: Path, work: Path, command: measure.Command,
                       *rest: object) -> object:
        calls.append((command.label, server.name))
        return answer(server.name, command.label, len(calls))

    monkeypatch.setattr(measure, "_command_run", recorded)
    results = asyncio.run(measure.command_timings(
        [_Named(n) for n in servers], Path("/nonexistent"), Path("/nonexistent"), runs,
        timeout=1, limit=1, log=lambda _line: None, commands=COMMANDS[:2]))
    return calls, results


def test_servers_take_turns_run_by_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, results = _run(monkeypatch, ["A", "B", "C"], 2,
                          lambda name, label, n: (0.01, float(n), 0.02, float(n) / 10))
    first, second = COMMANDS[0].label, COMMANDS[1].label
    assert calls == [(first, "A"), (first, "B"), (first, "C")] * 2 + \
        [(second, "A"), (second, "B"), (second, "C")] * 2
    # Each server's medians are of its own runs: A ran as calls 1 and 4.
    assert results["A"].cold[first] == pytest.approx(2.5)
    assert results["C"].warm[second] == pytest.approx((9 + 12) / 20)
    assert results["B"].cold["SELECT"] == pytest.approx(0.01)


def test_a_failing_server_is_skipped_and_the_others_measured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(name: str, label: str, n: int) -> object:
        if name == "B" and label == COMMANDS[0].label:
            return "n/a"
        if name == "C":
            return SelectTooSlow("SELECT > 1 s")
        return (0.01, 1.0, 0.02, 0.5)

    calls, results = _run(monkeypatch, ["A", "B", "C"], 3, answer)
    first, second = COMMANDS[0].label, COMMANDS[1].label
    # B's first command is not asked again after its n/a; C is asked once.
    assert calls.count((first, "B")) == 1 and calls.count((second, "B")) == 3
    assert [c for c in calls if c[1] == "C"] == [(first, "C")]
    assert results["B"].failures == {first: "n/a"} and results["B"].cold[second] == 1.0
    assert results["C"].cold == {} and results["C"].failures["SELECT"] == "SELECT > 1 s"
    assert results["A"].cold[first] == 1.0 and not results["A"].failures
