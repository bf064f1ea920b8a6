"""Courier-style configuration files (config.py), including the installed ones."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from postillion import config
from postillion.config import Config, load, parse_shell
from tests.conftest import REQUIRE_REFERENCE

COURIER = Path("/etc/courier")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"

CAPS = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
        "SORT QUOTA IDLE")


def values(text: str) -> dict[str, str]:
    return dict(parse_shell(text).assignments)


def test_shell_forms() -> None:
    parsed = values(
        "A=1\n"
        "B=\"$A two\"\n"
        "C='$A'   # comment\n"
        "export D=${A}x\n"
        "E=a\\ b\\\n"
        "c\n"
        "F=\"line one \\\n"
        "line two\"\n"
        "G=\"q\\\"\\$\\\\\"\n"
        "H=\n"
        "I=${UNSET:-fallback}\n"
        "  J=2 K=3\n")
    assert parsed == {"A": "1", "B": "1 two", "C": "$A", "D": "1x", "E": "a bc",
                      "F": "line one line two", "G": 'q"$\\', "H": "", "I": "fallback",
                      "J": "2", "K": "3"}


def test_commands_are_reported_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    parsed = parse_shell(f"touch {marker}\nA=`touch {marker}`\nB=$(id)\nC=ok\n")
    assert not marker.exists()
    assert dict(parsed.assignments)["C"] == "ok"
    assert len(parsed.problems) == 3


def test_expansion_uses_earlier_files_then_environment() -> None:
    earlier = {"X": "from-file"}
    assert dict(parse_shell("Y=$X/$HOME", earlier, {"HOME": "/root"}).assignments) == \
        {"Y": "from-file//root"}


def test_layering_and_environment(tmp_path: Path) -> None:
    (tmp_path / "imapd").write_text('IMAP_CAPABILITY="IMAP4rev1 IDLE"\nIMAP_KEYWORDS=1\n'
                                    'IMAP_CAPABILITY_TLS="$IMAP_CAPABILITY AUTH=PLAIN"\n')
    (tmp_path / "imapd-ssl").write_text("IMAP_KEYWORDS=2\nMYSTERY=1\n")
    cfg = load("imapd", tmp_path)
    assert cfg.get_int("IMAP_KEYWORDS") == 2
    assert cfg.get_words("IMAP_CAPABILITY_TLS") == ["IMAP4rev1", "IDLE", "AUTH=PLAIN"]
    assert cfg.unknown() == ["MYSTERY"]
    env = load("imapd", tmp_path, {"IMAP_KEYWORDS": "0", "PATH": "/bin"})
    assert env.get_int("IMAP_KEYWORDS") == 0
    assert env.raw("PATH") is None


def test_defaults_and_bad_values(caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config(config.IMAPD_VARIABLES, {"IMAP_IDLE_TIMEOUT": "soon", "IMAP_ACL": "maybe"})
    # Unset: Debian's packaged feature set (a bare ssh tunnel keeps UIDPLUS...).
    assert cfg.get_words("IMAP_CAPABILITY")[:3] == ["IMAP4rev1", "UIDPLUS", "CHILDREN"]
    assert cfg.get_int("IMAP_KEYWORDS") == 1
    assert cfg.get_int("IMAP_UMASK") == 0o22
    with caplog.at_level(logging.WARNING):
        assert cfg.get_int("IMAP_IDLE_TIMEOUT") == 60
        assert cfg.get_int("IMAP_IDLE_TIMEOUT") == 60
        assert cfg.get_bool("IMAP_ACL") is True  # "maybe" is bad: the default
    assert caplog.text.count("IMAP_IDLE_TIMEOUT") == 1
    with pytest.raises(KeyError):
        cfg.get_str("NOT_A_VARIABLE")


def test_unknown_variables_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config(config.IMAPD_VARIABLES, {"WHAT": "1", "AUTHSERVICE143": "imap"})
    with caplog.at_level(logging.WARNING):
        assert cfg.report_unknown() == ["WHAT"]
        assert cfg.report_unknown() == []
    assert caplog.text.count("WHAT") == 1


def test_pop3d_table(tmp_path: Path) -> None:
    (tmp_path / "pop3d").write_text('MAXPERIP=4\nPOP3AUTH=""\n'
                                    'POP3AUTH_TLS_ORIG="LOGIN PLAIN"\n')
    cfg = load("pop3d", tmp_path)
    assert cfg.get_int("MAXPERIP") == 4 and cfg.get_words("POP3AUTH") == []
    assert cfg.get_words("POP3AUTH_TLS_ORIG") == ["LOGIN", "PLAIN"]
    assert cfg.get_str("PORT") == "110" and cfg.unknown() == []


def test_docs_are_generated_from_the_tables() -> None:
    assert DOCS.read_text() == config.render_markdown(), \
        "regenerate: python -m postillion.config > docs/config.md"


def test_every_table_name_is_unique() -> None:
    for _, table in config.FILES.values():
        names = [v.name for v in table]
        assert len(names) == len(set(names))


# --- the packaged files installed on this machine ---------------------------------

def installed(name: str) -> Path:
    path = COURIER / name
    if not path.exists():
        message = f"{path} is not installed (Debian packages courier-imap, courier-pop)"
        if REQUIRE_REFERENCE:
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_installed_imapd_and_imapd_ssl() -> None:
    installed("imapd")
    installed("imapd-ssl")
    cfg = load("imapd", COURIER)
    assert cfg.problems == []
    assert cfg.unknown() == []
    assert cfg.get_str("IMAP_CAPABILITY") == CAPS
    assert cfg.get_str("IMAP_CAPABILITY_TLS") == CAPS + " AUTH=PLAIN"
    assert cfg.get_str("IMAP_CAPABILITY_TLS_ORIG").endswith("AUTH=CRAM-SHA256 IDLE AUTH=PLAIN")
    assert cfg.get_int("IMAP_KEYWORDS") == 1 and cfg.get_bool("IMAP_ACL")
    assert cfg.get_str("TCPDOPTS") == "-nodnslookup -noidentlookup"
    assert cfg.get_int("MAXDAEMONS") == 40 and cfg.get_int("MAXPERIP") == 20
    assert cfg.get_int("IMAP_UMASK") == 0o22 and cfg.get_int("IMAP_ULIMITD") == 131072
    assert cfg.get_str("IMAP_SHAREDINDEXFILE") == "/etc/courier/shared/index"
    assert cfg.get_str("IMAP_EMPTYTRASH") == "Trash:7"
    assert cfg.get_str("MAILDIRPATH") == "Maildir"
    # imapd-ssl's settings, layered on top
    assert cfg.get_bool("IMAPDSTARTTLS") and not cfg.get_bool("IMAP_TLS_REQUIRED")
    assert cfg.get_str("TLS_STARTTLS_PROTOCOL") == ""  # "$TLS_PROTOCOL", which is unset
    assert cfg.get_str("TLS_VERIFYPEER") == "NONE"
    assert cfg.get_int("TLS_CACHESIZE") == 524288
    assert cfg.get_str("TLS_CACHEFILE") == "/var/lib/courier/couriersslpop3cache"
    assert cfg.raw("DEFDOMAIN") is None and cfg.raw("OUTBOX") is None


def test_installed_authdaemonrc() -> None:
    installed("authdaemonrc")
    cfg = load("authdaemonrc", COURIER)
    assert cfg.problems == [] and cfg.unknown() == []
    assert cfg.get_words("authmodulelist") == ["authpam"]
    assert "authuserdb" in cfg.get_words("authmodulelistorig")
    assert cfg.get_int("daemons") == 5 and cfg.get_int("DEBUG_LOGIN") == 0
    assert cfg.get_str("DEFAULTOPTIONS") == ""


def test_installed_pop3d() -> None:
    installed("pop3d")
    cfg = load("pop3d", COURIER)
    assert cfg.unknown() == []
    assert cfg.get_int("MAXPERIP") == 4 and cfg.get_words("POP3AUTH") == []
    assert cfg.get_str("MIME_UNICODE_MESSAGE_TYPE") == "message/global"
