"""Replace one of our small files in a maildir folder in one step.

Readers must see the old file or the new one, never half of either: the
new content is written to a fresh file in the folder's ``tmp/`` (as
Maildir wants temporary files) and renamed over the old one.  A failure
at any point leaves the old file and no temporary one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from .filenames import new_unique_name


def replace_file(folder_dir: str, name: str, chunks: Iterable[bytes], *, tag: str,
                 mode: int = 0o600, durable: bool = False) -> None:
    """Make ``<folder_dir>/<name>`` hold ``chunks``, written in order;
    ``tag`` names the temporary file, ``durable`` fsyncs it before the
    rename.  Raises OSError (nothing changed then)."""
    tmp = os.path.join(folder_dir, "tmp", new_unique_name(tag).tmp_name())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode)
    try:
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(folder_dir, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
