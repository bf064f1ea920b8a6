"""authenumerate, sharedindexsplit and sharedindexinstall beside Courier's.

sharedindexsplit and sharedindexinstall are Courier's scripts in /usr/sbin
(courier-imap): both run on the same input and the files are compared byte
for byte.  The only allowed difference is the order of lines inside the
group files of the letters mode, which Courier writes in Perl's (random) hash
order; those are compared as sorted lines.  authenumerate needs a running
authdaemond, so its output is compared with the lines the reference recorded
from Courier's (courier-reference/login-auth.md, shared.md).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Runner, courier_program

pytestmark = pytest.mark.interop

LIST = (
    "benchmail\t1001\t1001\t/home/benchmail\t\n"
    "courref2\t1002\t1002\t/srv/u2\t/srv/u2/Maildir\tgroup=staff,sharedgroup=example.com\n"
    "# a comment line\n"
    "eve\t999\t995\t/srv/eve\t/srv/eve/Maildir\tsharedgroup=example.org\n"
    "short\t1\t1\n"
    "tux\t999\t995\t/srv/tux\t/srv/tux/Maildir\tdisableimap=1\n"
    "x\t5\t5\t/x\t\tsharedgroup=example.com\n"
    "\u00e9t\u00e9\t7\t7\t/e\tMaildir\tsharedgroup=example.org,group=a\n"
    "paul #comment\t1\t1\t/p\n"
    "seven\t1\t1\t/h\t\t\textra\n"
    "bo\t1\t1\t/b\tMaildir\r\n"
).encode()


def files_of(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def run_split(tmp_path: Path, run_ours: Runner, run_courier: Runner, *args: str,
              data: bytes = LIST) -> tuple[dict[str, bytes], dict[str, bytes]]:
    ours, theirs = tmp_path / "ours", tmp_path / "courier"
    ours.mkdir()
    theirs.mkdir()
    mine = run_ours("sharedindexsplit", ours, *args, input=data)
    real = run_courier("sharedindexsplit", theirs, *args, input=data)
    assert (mine.returncode, mine.stdout, mine.stderr) == (real.returncode, real.stdout,
                                                           real.stderr)
    return files_of(ours), files_of(theirs)


def test_split_by_sharedgroup_is_byte_identical(tmp_path: Path, run_ours: Runner,
                                                run_courier: Runner) -> None:
    ours, theirs = run_split(tmp_path, run_ours, run_courier)
    assert ours == theirs
    assert set(ours) == {"index", "indexexample.com", "indexexample.org"}


@pytest.mark.parametrize("letters", ["1", "2", "3"])
def test_split_by_letters_same_files_and_lines(tmp_path: Path, run_ours: Runner,
                                               run_courier: Runner, letters: str) -> None:
    ours, theirs = run_split(tmp_path, run_ours, run_courier, letters)
    assert set(ours) == set(theirs)
    for name, data in theirs.items():
        if b"\t*\t" in data:  # a group file: Courier's order is Perl's hash order
            assert sorted(ours[name].splitlines()) == sorted(data.splitlines()), name
        else:
            assert ours[name] == data, name


def test_split_appends_to_existing_leaf_files(tmp_path: Path, run_ours: Runner,
                                              run_courier: Runner) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "courier"
    for directory in (ours, theirs):
        directory.mkdir()
        (directory / "index").write_bytes(b"old\t1\t1\t/old\n")
    run_ours("sharedindexsplit", ours, input=LIST)
    run_courier("sharedindexsplit", theirs, input=LIST)
    assert files_of(ours) == files_of(theirs)


@pytest.mark.parametrize("args", [[], ["missing-dir"], ["missing-dir", "2"]])
def test_split_usage(tmp_path: Path, run_ours: Runner, run_courier: Runner,
                     args: list[str]) -> None:
    mine = run_ours("sharedindexsplit", *args, cwd=tmp_path, input=b"")
    real = run_courier("sharedindexsplit", *args, cwd=tmp_path, input=b"")
    assert mine.returncode == real.returncode == 2
    program = courier_program("sharedindexsplit").encode()
    assert mine.stderr == real.stderr.replace(program, b"sharedindexsplit")
    assert mine.stderr == b"Usage: sharedindexsplit outputdir [ letters ]\n"


def test_split_refuses_a_group_name_with_a_slash(tmp_path: Path, run_ours: Runner) -> None:
    (tmp_path / "out").mkdir()
    result = run_ours("sharedindexsplit", tmp_path / "out",
                      input=b"a\t1\t1\t/h\t\tsharedgroup=../../etc\n")
    assert result.returncode == 1 and b"may not contain '/'" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


# -- sharedindexinstall ------------------------------------------------------


def courier_install_script(sysconfdir: Path) -> Path:
    """Courier's script with its sysconfdir replaced (it has no option for it)."""
    text = Path(courier_program("sharedindexinstall")).read_text()
    assert 'sysconfdir="/etc/courier"' in text
    script = sysconfdir.parent / f"courier-install-{sysconfdir.name}.sh"
    script.write_text(text.replace('sysconfdir="/etc/courier"', f'sysconfdir="{sysconfdir}"'))
    script.chmod(0o755)
    return script


def tree_of(directory: Path) -> dict[str, tuple[int, bytes]]:
    result = {}
    for path in sorted(directory.iterdir()):
        info = path.lstat()
        result[path.name] = (stat.S_IMODE(info.st_mode), path.read_bytes())
    return result


def prepare(sysconfdir: Path) -> None:
    (sysconfdir / "shared").mkdir(parents=True)
    (sysconfdir / "shared" / "index").write_bytes(b"old\t1\t1\t/old\n")
    (sysconfdir / "shared" / "indexobsolete").write_bytes(b"gone\t1\t1\t/gone\n")
    (sysconfdir / "shared" / ".keep").write_bytes(b"dot files stay\n")
    (sysconfdir / "shared.tmp").mkdir()
    (sysconfdir / "shared.tmp" / "index").write_bytes(b"a\t*\tindexa\n")
    (sysconfdir / "shared.tmp" / "indexa").write_bytes(b"alice\t1\t1\t/alice\n")
    (sysconfdir / "shared.tmp" / ".tmplist").write_bytes(b"left alone\n")


def test_install_gives_courier_result(tmp_path: Path, run_ours: Runner) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "courier"
    prepare(ours)
    prepare(theirs)
    (ours / "shared").chmod(0o750)
    (theirs / "shared").chmod(0o750)
    mine = run_ours("sharedindexinstall", "--sysconfdir", ours)
    real = subprocess.run([courier_install_script(theirs)], capture_output=True, check=False)
    assert (mine.returncode, mine.stdout, mine.stderr) == (real.returncode, real.stdout,
                                                           real.stderr) == (0, b"", b"")
    assert tree_of(ours / "shared") == tree_of(theirs / "shared")
    assert set(tree_of(ours / "shared")) == {".keep", "index", "indexa"}
    assert tree_of(ours / "shared.tmp") == tree_of(theirs / "shared.tmp")
    assert stat.S_IMODE((ours / "shared").stat().st_mode) == 0o750
    leftovers = [p.name for p in ours.iterdir() if p.name.startswith(".shared")]
    assert leftovers == []


@pytest.mark.parametrize("case", ["no-tmp", "empty-tmp", "only-dotfiles", "no-shared"])
def test_install_messages(tmp_path: Path, run_ours: Runner, case: str) -> None:
    results = []
    for side in ("ours", "courier"):
        sysconfdir = tmp_path / side
        sysconfdir.mkdir()
        if case != "no-shared":
            (sysconfdir / "shared").mkdir()
        if case != "no-tmp":
            (sysconfdir / "shared.tmp").mkdir()
        if case == "only-dotfiles":
            (sysconfdir / "shared.tmp" / ".tmplist").write_bytes(b"x\n")
        if case == "no-shared":
            (sysconfdir / "shared.tmp" / "index").write_bytes(b"x\t1\t1\t/x\n")
        if side == "ours":
            result = run_ours("sharedindexinstall", env={"POSTILLION_SYSCONFDIR": str(sysconfdir)})
            results.append((result.returncode, result.stdout.replace(b"/ours/", b"/X/")))
        else:
            run = subprocess.run([courier_install_script(sysconfdir)], capture_output=True,
                                 check=False)
            results.append((run.returncode, run.stdout.replace(b"/courier/", b"/X/")))
    assert results[0] == results[1]
    assert results[0][0] == 1
    assert results[0][1].endswith(b" is empty!\n" if case != "no-shared"
                                  else b" does not exist!\n")


def test_install_swaps_the_directory_in_one_step(tmp_path: Path, run_ours: Runner) -> None:
    """A reader holding the old directory open keeps a complete old set; the
    path shows the complete new set; the directory inode changes in one step."""
    prepare(tmp_path)
    old_fd = os.open(tmp_path / "shared", os.O_RDONLY | os.O_DIRECTORY)
    try:
        old_inode = os.fstat(old_fd).st_ino
        result = run_ours("sharedindexinstall", "--sysconfdir", tmp_path)
        assert result.returncode == 0, result.stdout
        assert (tmp_path / "shared").stat().st_ino != old_inode
        assert sorted(os.listdir(tmp_path / "shared")) == [".keep", "index", "indexa"]
    finally:
        os.close(old_fd)


# -- authenumerate -----------------------------------------------------------

USERDB = (
    "paul\tuid=999|gid=995|home=/PATH/home/paul|mail=/PATH/home/paul/Maildir"
    "|options=disableshared=1\n"
    "eve\thome=/PATH/home/eve|uid=999|options=sharedgroup=example.com|gid=995"
    "|mail=/PATH/home/eve/Maildir\n"
    "tux\tmail=/PATH/home/tux/Maildir|gid=995|uid=999|home=/PATH/home/tux"
    "|options=disableimap=1\n"
)

# Courier's authenumerate on the same accounts (login-auth.md section 3).
COURIER_PLAIN = (
    "paul\t999\t995\t/PATH/home/paul\t/PATH/home/paul/Maildir\n"
    "eve\t999\t995\t/PATH/home/eve\t/PATH/home/eve/Maildir\n"
    "tux\t999\t995\t/PATH/home/tux\t/PATH/home/tux/Maildir\n"
)
COURIER_S_O = (
    "eve\t999\t995\t/PATH/home/eve\t/PATH/home/eve/Maildir\tsharedgroup=example.com\n"
    "tux\t999\t995\t/PATH/home/tux\t/PATH/home/tux/Maildir\tdisableimap=1\n"
)
COURIER_O = (
    "paul\t999\t995\t/PATH/home/paul\t/PATH/home/paul/Maildir\tdisableshared=1\n"
    "eve\t999\t995\t/PATH/home/eve\t/PATH/home/eve/Maildir\tsharedgroup=example.com\n"
    "tux\t999\t995\t/PATH/home/tux\t/PATH/home/tux/Maildir\tdisableimap=1\n"
)


@pytest.mark.parametrize(("args", "expected"), [
    ([], COURIER_PLAIN),
    (["-s", "-o"], COURIER_S_O),
    (["-o"], COURIER_O),
])
def test_authenumerate_output_as_recorded(tmp_path: Path, run_ours: Runner,
                                          args: list[str], expected: str) -> None:
    userdb = tmp_path / "userdb"
    userdb.write_text(USERDB)
    result = run_ours("authenumerate", *args, "--auth", f"userdb:{userdb}")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode() == expected
    by_env = run_ours("authenumerate", *args, env={"POSTILLION_AUTH": f"userdb:{userdb}"})
    assert by_env.stdout == result.stdout


def test_authenumerate_options_column_empty_when_none(tmp_path: Path, run_ours: Runner) -> None:
    userdb = tmp_path / "userdb"
    userdb.write_text("bob\tuid=5|gid=6|home=/h/bob\n")
    result = run_ours("authenumerate", "-o", "--auth", f"userdb:{userdb}")
    assert result.stdout == b"bob\t5\t6\t/h/bob\t/h/bob/Maildir\t\n"


def test_authenumerate_s_reads_disableshared_as_atoi(tmp_path: Path, run_ours: Runner) -> None:
    userdb = tmp_path / "userdb"
    userdb.write_text("a\tuid=5|gid=6|home=/a|options=disableshared=0\n"
                      "b\tuid=5|gid=6|home=/b|options=disableshared=2\n"
                      "c\tuid=5|gid=6|home=/c|options=disableshared=yes\n")
    result = run_ours("authenumerate", "-s", "--auth", f"userdb:{userdb}")
    assert [line.split(b"\t")[0] for line in result.stdout.splitlines()] == [b"a", b"c"]


@pytest.mark.parametrize("args", [["-h"], ["-x"], ["-so"]])
def test_authenumerate_usage(run_ours: Runner, args: list[str]) -> None:
    result = run_ours("authenumerate", *args)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, b"", b"Usage: authenumerate [-s] [-o]\n")
    real = subprocess.run([courier_program("authenumerate"), *args], capture_output=True,
                          check=False)
    assert (real.returncode, real.stdout, real.stderr) == (result.returncode, result.stdout,
                                                           result.stderr)


# -- the book's cron script, end to end ---------------------------------------

# Section 10.1.1, "Automatically Generating Index Files for Shared Groups", as
# printed, with the two misprints fixed: the redirection the typesetter broke
# inside its path ("<$sysconfdir/ \" + "shared.tmp/.tmplist", which would read
# stdin from the directory), and the final "sharedindexinstal1".
CRON_SCRIPT = """#!/bin/sh
sysconfdir="{sysconfdir}"
sbindir="{sbindir}"
# Remove residues from previous run-throughs
rm -rf $sysconfdir/shared.tmp
mkdir $sysconfdir/shared.tmp || exit 1
# Generate temporary index file containing user options
$sbindir/authenumerate -s {enum_opts} >$sysconfdir/shared.tmp/.tmplist || exit 1
# Split by sharedgroup
$sbindir/sharedindexsplit $sysconfdir/shared.tmp {letters} \\
    <$sysconfdir/shared.tmp/.tmplist || exit 1
# Delete temporary file
rm -f $sysconfdir/shared.tmp/.tmplist
# Move the completed files to $sysconf
$sbindir/sharedindexinstall
"""


def wrappers(bindir: Path, env: dict[str, str]) -> None:
    bindir.mkdir()
    exports = "".join(f"export {key}='{value}'\n" for key, value in env.items())
    for tool in ("authenumerate", "sharedindexsplit", "sharedindexinstall"):
        wrapper = bindir / tool
        wrapper.write_text(f"#!/bin/sh\n{exports}exec {sys.executable} -m postillion "
                           f"{tool} \"$@\"\n")
        wrapper.chmod(0o755)


@pytest.mark.parametrize(("enum_opts", "letters"), [("-o", ""), ("", "1")])
def test_cron_script_end_to_end(tmp_path: Path, enum_opts: str, letters: str) -> None:
    from postillion.maildir.sharedindex import load_tree

    sysconfdir = tmp_path / "etc"
    (sysconfdir / "shared").mkdir(parents=True)
    (sysconfdir / "shared" / "indexstale").write_text("stale\t1\t1\t/stale\n")
    homes = tmp_path / "home"
    lines = []
    for login, options in [("paul", "sharedgroup=example.com"), ("tux", "sharedgroup=example.org"),
                           ("geeko", "sharedgroup=example.com"), ("root2", "disableshared=1"),
                           ("anna", "")]:
        home = homes / login
        for sub in ("new", "cur", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
        lines.append(f"{login}\tuid=1000|gid=1000|home={home}"
                     + (f"|options={options}" if options else "") + "\n")
    userdb = tmp_path / "userdb"
    userdb.write_text("".join(lines))
    bindir = tmp_path / "sbin"
    wrappers(bindir, {"POSTILLION_AUTH": f"userdb:{userdb}",
                      "POSTILLION_SYSCONFDIR": str(sysconfdir),
                      "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    script = tmp_path / "cron.sh"
    script.write_text(CRON_SCRIPT.format(sysconfdir=sysconfdir, sbindir=bindir,
                                         enum_opts=enum_opts, letters=letters))
    script.chmod(0o755)
    result = subprocess.run([script], capture_output=True, check=False)
    assert (result.returncode, result.stderr) == (0, b""), result.stdout
    shared = sysconfdir / "shared"
    if letters:
        assert sorted(os.listdir(shared)) == ["index", "indexa", "indexg", "indexp", "indext"]
        tree = load_tree(str(shared / "index"))
        assert sorted(a.shared_name for a in tree.accounts) == [
            "#shared.a.anna", "#shared.g.geeko", "#shared.p.paul", "#shared.t.tux"]
    else:
        assert sorted(os.listdir(shared)) == ["index", "indexexample.com", "indexexample.org"]
        com = load_tree(str(shared / "indexexample.com"))
        assert [a.shared_name for a in com.accounts] == ["#shared.paul", "#shared.geeko"]
        assert [a.maildir for a in com.accounts] == [f"{homes}/paul/Maildir",
                                                     f"{homes}/geeko/Maildir"]
        org = load_tree(str(shared / "indexexample.org"))
        assert [a.shared_name for a in org.accounts] == ["#shared.tux"]
        main = load_tree(str(shared / "index"))
        assert [a.shared_name for a in main.accounts] == ["#shared.anna"]
    assert os.listdir(sysconfdir / "shared.tmp") == []
