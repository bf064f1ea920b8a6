"""The thin servers around the IMAP session: listeners, TLS, limits, privileges,
stdio mode, the ``serve`` command, and the folder notifier that IDLE uses."""
