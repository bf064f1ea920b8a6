"""Postillion: a Courier-compatible IMAP/POP3 mail server on Maildir++."""

__version__ = "0.1.0"
