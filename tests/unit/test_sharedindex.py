"""The shared index reader: Courier 5's parsing rules, groups, munging, clashes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postillion.maildir import sharedindex
from postillion.maildir.sharedindex import (
    IndexEntry,
    IndexGroup,
    IndexProblem,
    index_file_for,
    load_tree,
    munge_name,
    parse_index,
    parse_line,
)


def make_maildir(path: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def test_account_line_with_all_fields() -> None:
    line = parse_line("paul\t999\t995\t/home/paul\t/home/paul/Maildir\tgroup=x", "idx", 1)
    assert line == IndexEntry("paul", 999, 995, "/home/paul", "/home/paul/Maildir", "idx", 1)
    assert isinstance(line, IndexEntry)
    assert line.location == "/home/paul/Maildir"


def test_maildir_defaults_and_relative_maildir() -> None:
    short = parse_line("tux\t1\t2\t/h", "idx", 1)
    assert isinstance(short, IndexEntry)
    assert short.maildir == "./Maildir" and short.location == "/h/./Maildir"
    empty = parse_line("tux\t1\t2\t/h\t\topts", "idx", 1)
    assert isinstance(empty, IndexEntry) and empty.maildir == "./Maildir"
    relative = parse_line("tux\t1\t2\t/h\tMail/box", "idx", 1)
    assert isinstance(relative, IndexEntry) and relative.location == "/h/Mail/box"


def test_comments_and_blank_lines() -> None:
    lines, problems = parse_index(b"# a comment\n\n  \t\ntux\t1\t1\t/h # trailing\n", "idx")
    assert [problem.line for problem in problems] == [3]  # "  <TAB>": no uid
    entries = [line for line in lines if isinstance(line, IndexEntry)]
    assert [(e.name, e.home) for e in entries] == [("tux", "/h ")]


@pytest.mark.parametrize(("text", "reason"), [
    ("tux 999 995 /home/tux /home/tux/Maildir", "spaces"),
    ("root\t0\t0\t/root", "uid 0"),
    ("tux\t999\t0\t/h", "gid 0"),
    ("tux\tabc\t1\t/h", "uid 0"),
    ("tux\t1\t1", "fewer than four"),
    ("grp\t*", "group line without a file"),
])
def test_lines_courier_refuses(text: str, reason: str) -> None:
    parsed = parse_line(text, "idx", 7)
    assert isinstance(parsed, IndexProblem)
    assert reason in parsed.reason and parsed.line == 7


def test_uid_is_its_leading_digits() -> None:
    parsed = parse_line("tux\t12x\t7y\t/h", "idx", 1)
    assert isinstance(parsed, IndexEntry) and (parsed.uid, parsed.gid) == (12, 7)


def test_group_file_is_relative_to_the_index_directory() -> None:
    group = parse_line("team\t*\tindex.team", "/etc/courier/shared/index", 1)
    assert group == IndexGroup("team", "/etc/courier/shared/index.team",
                               "/etc/courier/shared/index", 1)
    # Courier concatenates: an absolute name still ends up below the directory.
    absolute = parse_line("team\t*\t/x/index.team", "/etc/courier/shared/index", 1)
    assert isinstance(absolute, IndexGroup)
    assert absolute.file == "/etc/courier/shared/x/index.team"


def test_invalid_utf8_name_is_a_problem() -> None:
    lines, problems = parse_index(b"\xff\xfe\t1\t1\t/h\n", "idx")
    assert lines == [] and "UTF-8" in problems[0].reason


def test_munging_default_and_complex() -> None:
    assert munge_name("paul.meier") == "paul meier"
    assert munge_name("us\u00e9r/3") == "us\u00e9r 3"
    assert munge_name("user.2", True) == "user\\:2"
    assert munge_name("us\u00e9r/3", True) == "us\u00e9r\\;3"
    assert munge_name("a\\b", True) == "a\\\\b"
    assert munge_name("a\\b") == "a\\b"


@given(st.text(min_size=1))
def test_munged_names_are_one_level(name: str) -> None:
    for complex_munging in (False, True):
        munged = munge_name(name, complex_munging)
        assert "." not in munged and "/" not in munged


@given(st.lists(st.text(st.characters(blacklist_characters="#\t\n\r\x00", codec="utf-8"),
                        min_size=1, max_size=8), min_size=2, max_size=2, unique=True))
def test_complex_munging_never_merges_distinct_names(pair: list[str]) -> None:
    first, second = pair
    assert munge_name(first, True) != munge_name(second, True)


@given(st.text(st.characters(blacklist_characters="#\t\n\r\x00", codec="utf-8"), min_size=1),
       st.integers(1, 2**32 - 1), st.integers(1, 2**32 - 1),
       st.text(st.characters(blacklist_characters="#\t\n\r\x00", codec="utf-8")),
       st.text(st.characters(blacklist_characters="#\t\n\r\x00", codec="utf-8"), min_size=1))
def test_written_lines_read_back(name: str, uid: int, gid: int, home: str,
                                 maildir: str) -> None:
    data = f"{name}\t{uid}\t{gid}\t{home}\t{maildir}\n".encode()
    lines, problems = parse_index(data, "idx")
    assert problems == []
    assert lines == [IndexEntry(name, uid, gid, home, maildir, "idx", 1)]


def test_tree_nested_groups_missing_and_own(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    paul = make_maildir(tmp_path / "paul" / "Maildir")
    make_maildir(tmp_path / "tux" / "Maildir")
    (shared / "index").write_text(
        f"employees\t*\tindex-employees\n"
        f"bueroorga\t1000\t1000\t{tmp_path}/paul\tMaildir\n"
        f"gone\t1000\t1000\t{tmp_path}/nobody\tMaildir\n")
    (shared / "index-employees").write_text(
        f"tux\t1000\t1000\t{tmp_path}/tux\tMaildir\n"
        "interns\t*\tsub/index-interns\n")
    (shared / "sub" / "index-interns").write_text(f"geeko\t1\t1\t{tmp_path}/tux\n")
    tree = load_tree(str(shared / "index"))
    assert [a.shared_name for a in tree.accounts] == [
        "#shared.employees.tux", "#shared.employees.interns.geeko",
        "#shared.bueroorga", "#shared.gone"]
    assert tree.groups == ("#shared.employees", "#shared.employees.interns")
    geeko = tree.accounts[1]
    assert geeko.maildir == f"{tmp_path}/tux/./Maildir"
    assert geeko.group == "interns" and geeko.owner_identifier == "user=interns"
    assert tree.accounts[2].owner_identifier == "vendor=courier.internal"
    own = os.stat(paul)
    available = [a.shared_name for a in tree.accounts if a.available(own)]
    assert available == ["#shared.employees.tux", "#shared.employees.interns.geeko"]
    found = tree.find("#shared.employees.tux.Work.Sub")
    assert found is not None and found[0].entry.name == "tux"
    assert found[1] == "INBOX.Work.Sub"
    assert tree.find("#shared.employees") is None
    assert tree.find("#shared.bueroorga")[1] == "INBOX"  # type: ignore[index]
    assert tree.find("#shared.bueroorga..x") is None
    assert tree.find("INBOX.x") is None


def test_self_including_group_is_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("loop\t*\tindexloop\n")
    (tmp_path / "indexloop").write_text("again\t*\tindex\n")
    tree = load_tree(str(tmp_path / "index"))
    assert tree.accounts == ()
    assert any("includes itself" in p.reason for p in tree.problems)


def test_missing_index_is_empty(tmp_path: Path) -> None:
    tree = load_tree(str(tmp_path / "nothing"))
    assert tree.accounts == () and tree.clashes() == []


def test_clashes_reported_first_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "index").write_text(
        "paul.meier\t1\t1\t/a\npaul/meier\t1\t1\t/b\npaul meier\t1\t1\t/c\nok\t1\t1\t/d\n")
    with caplog.at_level(logging.WARNING, logger="postillion.maildir.sharedindex"):
        tree = load_tree(str(tmp_path / "index"))
    assert [a.shared_name for a in tree.accounts] == ["#shared.paul meier", "#shared.ok"]
    assert tree.accounts[0].entry.home == "/a"
    [clash] = tree.clashes()
    assert clash.shared_name == "#shared.paul meier"
    assert [name for _, _, name in clash.lines] == ["paul.meier", "paul/meier", "paul meier"]
    assert "clash" in caplog.text
    # IMAP_SHAREDMUNGENAMES=1 keeps them apart.
    complex_tree = load_tree(str(tmp_path / "index"), complex_munging=True)
    assert complex_tree.clashes() == []
    assert len(complex_tree.accounts) == 4
    assert sharedindex.find_clashes(str(tmp_path / "index"), True) == []


def test_space_separated_line_is_logged_once(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "index").write_text("tux 1001 500 /home/tux Maildir/\n")
    with caplog.at_level(logging.WARNING, logger="postillion.maildir.sharedindex"):
        load_tree(str(tmp_path / "index"))
        load_tree(str(tmp_path / "index"))
    assert caplog.text.count("spaces, not TABs") == 1


def test_utf8_names(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("us\u00e9r/3\t1\t1\t/h\n", encoding="utf-8")
    tree = load_tree(str(tmp_path / "index"))
    assert tree.accounts[0].shared_name == "#shared.us\u00e9r 3"


def test_sharedgroup_selects_its_own_file(tmp_path: Path) -> None:
    base = str(tmp_path / "index")
    assert index_file_for(base, "example.com") == base + "example.com"
    assert index_file_for(base, None) == base
    assert index_file_for(base, "") == base
    (tmp_path / "index").write_text("tux\t1\t1\t/t\n")
    (tmp_path / "indexexample.com").write_text("paul\t1\t1\t/p\n")
    tree = load_tree(index_file_for(base, "example.com"))
    assert [a.entry.name for a in tree.accounts] == ["paul"]
