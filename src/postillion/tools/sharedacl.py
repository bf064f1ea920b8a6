"""``postillion sharedacl rebuild|check|list``: the reverse ACL index of ``#shared.``.

* ``rebuild``: read the ACLs of every maildir named by the shared index files
  (the main index, every ``index*`` file beside it - share groups - and the
  group files they include) and write the reverse index anew.
* ``check``: report index lines Courier ignores, names that clash, and
  owners whose record no longer matches their ACL files; exit 1 if any, 0 if
  the index is clean and current.  ``check --fix`` also re-reads the stale
  owners and saves them.
* ``list LOGIN [--options OPTS]``: the ``#shared.`` folders LOGIN may look up
  (``OPTS`` as in userdb, e.g. ``group=staff,sharedgroup=example.com``), one
  ``name<TAB>maildir<TAB>folder`` line each, exactly checked.

Options: ``--index FILE`` (default ``$IMAP_SHAREDINDEXFILE``, else
``/etc/courier/shared/index``), ``--db FILE`` (default
``$POSTILLION_SHAREDACL_INDEX``, else ``.postillion-sharedacl.json`` beside the
index), ``--munge`` (as ``IMAP_SHAREDMUNGENAMES=1``; default from that variable).
"""

from __future__ import annotations

import argparse
import os
import sys

from postillion.auth.account import AccountOptions
from postillion.maildir import sharedacl_index as reverse
from postillion.maildir import sharedindex


def _trees(index_file: str, munge: bool) -> list[sharedindex.SharedTree]:
    directory = os.path.dirname(os.path.abspath(index_file))
    base = os.path.basename(index_file)
    files = [index_file]
    try:
        files += sorted(os.path.join(directory, name) for name in os.listdir(directory)
                        if name.startswith(base) and name != base)
    except OSError:
        pass
    return [sharedindex.load_tree(path, munge) for path in files]


def _maildirs(trees: list[sharedindex.SharedTree]) -> list[str]:
    return list(dict.fromkeys(key for tree in trees for key in tree.by_maildir()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postillion sharedacl")
    parser.add_argument("command", choices=("rebuild", "check", "list"))
    parser.add_argument("login", nargs="?")
    parser.add_argument("--index", default=os.environ.get("IMAP_SHAREDINDEXFILE")
                        or sharedindex.DEFAULT_INDEX_FILE)
    parser.add_argument("--db")
    parser.add_argument("--options", default="")
    parser.add_argument("--munge", action="store_true",
                        default=(os.environ.get("IMAP_SHAREDMUNGENAMES", "0")[:1] or "0")
                        not in "0")
    parser.add_argument("--fix", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    db = reverse.SharedAclIndex(args.db or reverse.default_path(args.index))
    if args.command == "list":
        if not args.login:
            parser.error("list needs a LOGIN")
        options = AccountOptions.parse(args.options)
        tree = sharedindex.load_tree(
            sharedindex.index_file_for(args.index, options.sharedgroup), args.munge)
        for found in db.lookup(tree, args.login, args.options, verify_all=True):
            sys.stdout.write(f"{found.name}\t{found.maildir}\t{found.folder}\n")
        return 0
    trees = _trees(args.index, args.munge)
    maildirs = _maildirs(trees)
    if args.command == "rebuild":
        db.rebuild(maildirs)
        sys.stdout.write(f"{db.path}: {len(maildirs)} maildirs, "
                         f"{len(db.owners)} with shared folders\n")
        return 0
    problems = 0
    for tree in trees:
        for problem in tree.problems:
            if problem.line:
                sys.stdout.write(f"ignored line: {problem}\n")
                problems += 1
        for clash in tree.clashes():
            sys.stdout.write(f"name clash (only the first is used): {clash}\n")
            problems += 1
    if not db.load():
        sys.stdout.write(f"{db.path}: missing or unusable; run 'postillion sharedacl rebuild'\n")
        return 1
    for key in maildirs:
        stored = db.owners.get(key)
        fresh = reverse.scan_owner(key)
        stored_view = {f: (r.entries) for f, r in (stored.folders.items() if stored else ())}
        fresh_view = {f: (r.entries) for f, r in fresh.folders.items()}
        if stored_view != fresh_view or not db.known(key):
            sys.stdout.write(f"stale: {key}\n")
            problems += 1
            if args.fix:
                db.update_owner(key)
    if args.fix:
        db.save()
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
