"""The IMAP server: the sans-IO protocol core (:mod:`.protocol`), and later
the session and the command handlers that drive it."""
