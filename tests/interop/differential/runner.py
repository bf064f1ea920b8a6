"""Run the script through Courier's imapd and ``postillion imapd`` on two copies
of one maildir, with the same environment: the packaged /etc/courier/imapd
settings (read with a shell, as Courier's start script does), AUTHENTICATED,
HOME, TZ=UTC.

``python -m tests.interop.differential.runner DIR`` keeps both homes and
prints the differing exchanges, for working on a difference by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.interop.differential.corpus import build_maildir, copy_maildir, deliver_new_mail
from tests.interop.differential.driver import Exchange, Step, run_script
from tests.interop.differential.normalise import normalise
from tests.interop.differential.script import KEYS, STEPS

COURIER_IMAPD = "/usr/bin/imapd"
COURIER_SETTINGS = "/etc/courier/imapd"
ACCOUNT = "paul"


def packaged_settings(path: str = COURIER_SETTINGS) -> dict[str, str]:
    """The variables of Courier's imapd file as its start script exports them."""
    if not os.path.exists(path):
        return {}
    output = subprocess.run(
        ["sh", "-c", 'set -a; . "$1" >/dev/null 2>&1; set +a; env -0', "sh", path],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, check=True).stdout
    settings = {}
    for entry in output.split(b"\0"):
        name, sep, value = entry.decode("utf-8", "surrogateescape").partition("=")
        if sep and name not in ("PATH", "PWD", "SHLVL", "_", "OLDPWD"):
            settings[name] = value
    return settings


def environment(home: Path, settings: dict[str, str]) -> dict[str, str]:
    return {**settings, "PATH": "/usr/bin:/bin", "HOME": str(home), "TZ": "UTC",
            "AUTHENTICATED": ACCOUNT, "PYTHONPATH": os.pathsep.join(sys.path)}


@dataclass
class Comparison:
    key: str
    courier: Exchange
    ours: Exchange
    courier_normalised: list[str]
    ours_normalised: list[str]

    @property
    def same_course(self) -> bool:
        """Both ran to the tagged response, or both refused the same literal."""
        return (self.courier.problem == self.ours.problem
                and self.ours.problem in ("", "literal refused"))

    @property
    def exact(self) -> bool:
        return self.same_course and self.courier.lines == self.ours.lines

    @property
    def normalised_equal(self) -> bool:
        return self.same_course and self.courier_normalised == self.ours_normalised

    def describe(self) -> str:
        def side(name: str, exchange: Exchange, lines: list[str]) -> str:
            problem = f"   [{exchange.problem}]\n" if exchange.problem else ""
            return f"  {name}:\n" + problem + "".join(f"    {line[:400]}\n" for line in lines)
        return (f"{self.key}\n" + side("courier", self.courier, self.courier_normalised)
                + side("ours", self.ours, self.ours_normalised))


def write_transcript(path: Path, exchanges: list[Exchange]) -> None:
    """The raw responses, one exchange after another, for reading by hand."""
    with open(path, "wb") as out:
        for exchange in exchanges:
            if exchange.problem:
                out.write(b"[%s]\n" % exchange.problem.encode())
            for line in exchange.lines:
                out.write(line + b"\n")


def run_both(workdir: Path) -> list[Comparison]:
    """Build the maildir, run both servers, and pair the exchanges by step
    (the greeting first, under the key ``<greeting>``)."""
    original = workdir / "original"
    original.mkdir()
    build_maildir(original / "Maildir")
    settings = packaged_settings()
    priming = run_script([COURIER_IMAPD, "Maildir"], original, environment(original, settings),
                         [Step("SELECT INBOX"), Step("SELECT INBOX.Work"), Step("LOGOUT")])
    if any(exchange.problem for exchange in priming):
        raise RuntimeError(f"Courier's imapd did not open the maildir: {priming}")
    (original / "imapd.stderr").unlink()
    deliver_new_mail(original / "Maildir")
    programs = {"courier": [COURIER_IMAPD, "Maildir"],
                "ours": [sys.executable, "-m", "postillion", "imapd", "Maildir"]}
    transcripts: dict[str, list[Exchange]] = {}
    started = time.time()
    for name, argv in programs.items():
        home = workdir / name
        home.mkdir()
        copy_maildir(original / "Maildir", home / "Maildir")
        transcripts[name] = run_script(argv, home, environment(home, settings), STEPS)
        write_transcript(workdir / f"{name}.transcript", transcripts[name])
    window = (started, time.time())
    return [Comparison(key, theirs, ours, normalise(theirs.lines, window),
                       normalise(ours.lines, window))
            for key, theirs, ours in zip(["<greeting>", *KEYS], transcripts["courier"],
                                         transcripts["ours"], strict=True)]


def main() -> None:
    workdir = Path(sys.argv[1])
    workdir.mkdir(parents=True, exist_ok=True)
    comparisons = run_both(workdir)
    differing = [c for c in comparisons if not c.normalised_equal]
    for comparison in differing:
        print(comparison.describe())
    print(f"{len(comparisons) - len(differing)} of {len(comparisons)} agree after normalising")


if __name__ == "__main__":
    main()
