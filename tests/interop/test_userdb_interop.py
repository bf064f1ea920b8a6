"""Our userdb/userdbpw against Courier's (Debian package courier-authlib-userdb).

Courier's ``userdb`` is a Perl script that takes ``-f FILE``, so every test
works on a file in a temporary directory and /etc/courier is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.conftest import REQUIRE_REFERENCE

from postillion.auth.passwords import verify_password
from postillion.auth.userdb import UserdbBackend

pytestmark = pytest.mark.interop

COURIER = {"userdb": "/usr/sbin/userdb", "userdbpw": "/usr/sbin/userdbpw"}
PASSWORDS = ["secret", "pässwörd", "with space", "x" * 70, "a|b"]


def courier(name: str, *args: str | Path, input: bytes | None = None
            ) -> subprocess.CompletedProcess[bytes]:
    path = COURIER[name]
    if not os.access(path, os.X_OK):
        message = f"Courier's {name} is not installed (Debian package courier-authlib-userdb)"
        if REQUIRE_REFERENCE:
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run([path, *map(str, args)], input=input, capture_output=True,
                          timeout=60, check=False)


def ours(name: str, *args: str | Path, input: bytes | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    import sys
    return subprocess.run([sys.executable, "-m", "postillion", name, *map(str, args)],
                          input=input, capture_output=True, timeout=60, check=False)


RUNNERS = {"ours": ours, "courier": courier}


def same(a: subprocess.CompletedProcess[bytes], b: subprocess.CompletedProcess[bytes]) -> None:
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)
    assert a.stderr.replace(b"/usr/sbin/", b"") == b.stderr.replace(b"/usr/sbin/", b"")


# --- userdbpw ---------------------------------------------------------------------

@pytest.mark.parametrize("option", ["-hmac-md5", "-hmac-sha1", "-hmac-sha256"])
@pytest.mark.parametrize("password", PASSWORDS)
def test_hmac_output_is_identical(option: str, password: str) -> None:
    data = password.encode() + b"\n"
    same(ours("userdbpw", option, input=data), courier("userdbpw", option, input=data))


@pytest.mark.parametrize("option", [None, "-md5"])
@pytest.mark.parametrize("password", PASSWORDS)
def test_crypt_hashes_verify_both_ways(option: str | None, password: str) -> None:
    args = [option] if option else []
    theirs = courier("userdbpw", *args, input=password.encode() + b"\n")
    mine = ours("userdbpw", *args, input=password.encode() + b"\n")
    assert theirs.returncode == mine.returncode == 0
    their_hash, my_hash = theirs.stdout.decode().strip(), mine.stdout.decode().strip()
    assert verify_password(password, their_hash)
    assert verify_password(password, my_hash)
    assert not verify_password("!" + password, their_hash)  # DES reads only 8 characters
    # Same shape as Courier's: 13-character DES, or $1$ with an 8-character salt.
    assert len(my_hash) == len(their_hash)
    assert my_hash[:3] == their_hash[:3] or option is None


def test_our_sha512_is_read_by_the_c_library() -> None:
    crypt = pytest.importorskip("crypt")
    stored = ours("userdbpw", "-sha512", input=b"secret\n").stdout.decode().strip()
    assert stored.startswith("$6$")
    assert crypt.crypt("secret", stored) == stored


@pytest.mark.parametrize("args", [["-x"], ["-sha1"], ["-md5", "extra"], ["-hmac-sha512"],
                                  ["--help"]])
def test_userdbpw_bad_arguments(args: list[str]) -> None:
    same(ours("userdbpw", *args, input=b"secret\n"), courier("userdbpw", *args, input=b"s\n"))


@pytest.mark.parametrize("data", [b"", b"nonewline", b"first\nsecond\n"])
def test_userdbpw_input_edges(data: bytes) -> None:
    same(ours("userdbpw", "-hmac-md5", input=data), courier("userdbpw", "-hmac-md5", input=data))


# --- userdb -----------------------------------------------------------------------

SCRIPT: list[tuple[list[str], bytes | None]] = [
    (["paul", "set", "uid=999", "gid=995", "home=/h/paul", "mail=/h/paul/Maildir"], None),
    (["eve", "set", "home=/h/eve", "uid=999", "gid=995", "options=group=staff"], None),
    (["paul", "set", "systempw"], b"$1$Bxl.6aXq$okRYFiXT2f4XWi7.9wGHV0\n"),
    (["tux", "set", "uid=1", "gid=1", "home=/t", "a=1", "a=2"], None),
    (["eve", "unset", "options"], None),
    (["tux", "del"], None),
    (["nosuch", "unset", "x"], None),
    (["nosuch", "del"], None),
]


def run_script(runner: str, db: Path) -> list[tuple[int, bytes, bytes]]:
    results = []
    for args, data in SCRIPT:
        done = RUNNERS[runner]("userdb", "-f", db, *args, input=data or b"")
        results.append((done.returncode, done.stdout, done.stderr))
    return results


def records(path: Path) -> dict[str, dict[str, str]]:
    """The file's records as name -> fields (field order is arbitrary in Courier)."""
    result = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition("\t")
        result[name] = dict(item.partition("=")[::2] for item in rest.split("|") if item)
    return result


def test_same_edits_give_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "o").mkdir()
    theirs, mine = tmp_path / "c" / "userdb", tmp_path / "o" / "userdb"
    assert run_script("ours", mine) == run_script("courier", theirs)
    assert records(mine) == records(theirs)
    assert list(records(mine)) == ["paul", "eve"]
    assert mine.stat().st_mode & 0o777 == theirs.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(mine.parent)) == sorted(os.listdir(theirs.parent))


@pytest.mark.parametrize("writer,reader", [("ours", "courier"), ("courier", "ours")])
def test_show_reads_the_other_ones_file(tmp_path: Path, writer: str, reader: str) -> None:
    db = tmp_path / "userdb"
    run_script(writer, db)
    listing = RUNNERS[reader]("userdb", "-show", "-f", db)
    assert (listing.returncode, listing.stdout) == (0, b"paul\neve\n")
    paul = RUNNERS[reader]("userdb", "-show", "-f", db, "paul")
    assert sorted(paul.stdout.decode().splitlines()) == sorted([
        "uid=999", "gid=995", "home=/h/paul", "mail=/h/paul/Maildir",
        "systempw=$1$Bxl.6aXq$okRYFiXT2f4XWi7.9wGHV0"])
    assert RUNNERS[reader]("userdb", "-show", "-f", db, "nosuch").stdout == b""


def test_backend_reads_courier_written_file(tmp_path: Path) -> None:
    db = tmp_path / "userdb"
    run_script("courier", db)
    password = courier("userdbpw", "-md5", input=b"evepw\n").stdout.strip()
    hmac_states = courier("userdbpw", "-hmac-md5", input=b"evepw\n").stdout.strip()
    courier("userdb", "-f", db, "eve", "set", "systempw", input=password + b"\n")
    courier("userdb", "-f", db, "eve", "set", "hmac-md5pw", input=hmac_states + b"\n")
    backend = UserdbBackend(db)
    eve = backend.authenticate("imap", "eve", "evepw")
    assert eve is not None and eve.home == "/h/eve" and eve.maildir == "/h/eve/Maildir"
    assert backend.authenticate("imap", "eve", "wrong") is None
    assert backend.cram_secret("imap", "eve", "md5") == hmac_states.decode()


@pytest.mark.parametrize("args,data", [
    ([], b""),
    (["-f"], b""),
    (["paul"], b""),
    (["paul", "frob"], b""),
    (["paul", "del", "extra"], b""),
    (["paul", "set", "a=1|2"], b""),
    (["paul", "set", "a"], b""),
    (["paul", "set", "a"], b"v|x\n"),
    (["paul", "unset"], b""),
])
def test_userdb_errors_match(tmp_path: Path, args: list[str], data: bytes) -> None:
    results = []
    for runner in ("ours", "courier"):
        workdir = tmp_path / runner
        workdir.mkdir()
        shutil.copy2(__file__, workdir / "keep")  # a non-empty directory
        argv = ["-f", str(workdir / "userdb"), *args] if args and args[0] != "-f" else args
        done = RUNNERS[runner]("userdb", *argv, input=data)
        stdout = done.stdout.replace(b"/usr/sbin/userdb", b"userdb")
        results.append((done.returncode, stdout, done.stderr,
                        (workdir / "userdb").exists()))
    assert results[0] == results[1]


def test_not_a_file(tmp_path: Path) -> None:
    for runner in ("ours", "courier"):
        target = tmp_path / runner
        target.mkdir()
        done = RUNNERS[runner]("userdb", "-f", target, "x", "set", "a=1")
        assert (done.returncode, done.stderr) == (25, f"{target}: not a file.\n".encode())
