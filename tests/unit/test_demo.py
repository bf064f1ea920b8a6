"""The README's first command ends in ``postillion demo``: it must work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_builds_a_courier_maildir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-m", "postillion", "demo", "--dir", str(home)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    maildir = home / "Maildir"
    # Three messages fit the 4000S,5C quota; the long fourth is refused.
    assert len(os.listdir(maildir / "cur")) == 3
    assert "refused: over quota" in result.stdout
    lines = (maildir / "maildirsize").read_text().splitlines()
    assert lines[0] == "4000S,5C"
    total = sum(int(line.split()[0]) for line in lines[1:])
    assert total == sum(p.stat().st_size for p in (maildir / "cur").iterdir())
    uiddb = (maildir / "courierimapuiddb").read_text().splitlines()
    assert uiddb[0].split()[0] == "1" and uiddb[0].split()[2] == "4"
    assert (maildir / ".Testshare" / "courierimapacl").read_text().endswith("user=tux lr\n")
