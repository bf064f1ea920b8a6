"""TLS contexts from Courier's ``imapd-ssl`` variables, with the stdlib ``ssl`` module.

Courier hands TLS to couriertls (OpenSSL or GnuTLS); we map its variables:

* ``TLS_CERTFILE``: PEM with the certificate chain and, unless
  ``TLS_PRIVATE_KEYFILE`` names a separate file, the private key (Courier's
  ``imapd.pem`` holds both).
* ``TLS_PROTOCOL`` (implicit TLS) and ``TLS_STARTTLS_PROTOCOL`` (STARTTLS):
  ``TLSv1``, ``TLSv1.1``, ``TLSv1.2``, ``TLSv1.3`` pin one version; with a
  trailing ``+`` (``TLSv1.2+``) that version or newer.  ``SSL3``/``SSL23`` and
  other values give the library's default (TLS 1.2 and newer); the system's
  OpenSSL policy may still refuse old versions.
* ``TLS_CIPHER_LIST``: an OpenSSL cipher string for TLS 1.2 and older (TLS 1.3
  suites are not configurable through the stdlib); an invalid list is reported
  and the default kept.  ``TLS_PRIORITY`` (a GnuTLS priority string) is not
  mapped.
* ``TLS_DHPARAMS``: loaded when the file exists.
* ``TLS_VERIFYPEER``: ``NONE`` (default), ``PEER`` (ask for a client
  certificate, verified against ``TLS_TRUSTCERTS``), ``REQUIREPEER`` (require one).
"""

from __future__ import annotations

import logging
import os
import ssl

from postillion.config import Config

log = logging.getLogger(__name__)

_VERSIONS = {
    "TLSV1": ssl.TLSVersion.TLSv1,
    "TLSV1.1": ssl.TLSVersion.TLSv1_1,
    "TLSV1.2": ssl.TLSVersion.TLSv1_2,
    "TLSV1.3": ssl.TLSVersion.TLSv1_3,
}


def _apply_protocol(context: ssl.SSLContext, value: str) -> None:
    text = value.strip().upper()
    if not text:
        return
    at_least = text.endswith("+")
    version = _VERSIONS.get(text.rstrip("+"))
    if version is None:
        log.warning("tls: TLS_PROTOCOL=%r not understood; using the library default", value)
        return
    context.minimum_version = version
    if not at_least:
        context.maximum_version = version


def make_tls_context(config: Config, *, starttls: bool = False) -> ssl.SSLContext | None:
    """A server context for the implicit-TLS port (or STARTTLS with ``starttls``);
    None, with a warning, when the certificate cannot be loaded."""
    certfile = config.get_str("TLS_CERTFILE")
    keyfile = config.get_str("TLS_PRIVATE_KEYFILE") or None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        log.warning("tls: cannot load TLS_CERTFILE %s: %s; TLS is off", certfile, exc)
        return None
    protocol = config.get_str("TLS_STARTTLS_PROTOCOL") if starttls else ""
    _apply_protocol(context, protocol or config.get_str("TLS_PROTOCOL"))
    ciphers = config.get_str("TLS_CIPHER_LIST").strip()
    if ciphers:
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError:
            log.warning("tls: TLS_CIPHER_LIST=%r rejected by OpenSSL; default kept", ciphers)
    dhparams = config.get_str("TLS_DHPARAMS")
    if dhparams and os.path.isfile(dhparams):
        try:
            context.load_dh_params(dhparams)
        except (OSError, ssl.SSLError) as exc:
            log.warning("tls: cannot load TLS_DHPARAMS %s: %s", dhparams, exc)
    verify = config.get_str("TLS_VERIFYPEER").strip().upper()
    if verify in ("PEER", "REQUIREPEER"):
        context.verify_mode = ssl.CERT_REQUIRED if verify == "REQUIREPEER" else ssl.CERT_OPTIONAL
        trust = config.get_str("TLS_TRUSTCERTS")
        try:
            if os.path.isdir(trust):
                context.load_verify_locations(capath=trust)
            else:
                context.load_verify_locations(cafile=trust)
        except (OSError, ssl.SSLError) as exc:
            log.warning("tls: cannot load TLS_TRUSTCERTS %s: %s", trust, exc)
    return context
