"""Courier's command-line tools, under their Courier names.

Each module has ``main(argv: list[str] | None = None) -> int`` and keeps
Courier's options, messages and exit codes.  They are installed as console
scripts of their own and reachable as ``postillion <name>``.
"""

TOOLS: dict[str, str] = {
    "maildirmake": "postillion.tools.maildirmake",
    "deliverquota": "postillion.tools.deliverquota",
    "maildiracl": "postillion.tools.maildiracl",
    "maildirkw": "postillion.tools.maildirkw",
    "userdb": "postillion.tools.userdb",
    "userdbpw": "postillion.tools.userdbpw",
    "authenumerate": "postillion.tools.authenumerate",
    "sharedindexsplit": "postillion.tools.sharedindexsplit",
    "sharedindexinstall": "postillion.tools.sharedindexinstall",
    "sharedacl": "postillion.tools.sharedacl",
}
