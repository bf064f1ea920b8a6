"""Differential test of ``postillion imapd`` against Courier's ``imapd``: the
driver, the maildir, the command script and the normalisation it uses."""
