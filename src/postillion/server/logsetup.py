"""Log lines on standard error, one event per line, as Courier's servers write them
for courierlogger: ``LEVEL: event key=value ...``."""

from __future__ import annotations

import logging
import sys


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
