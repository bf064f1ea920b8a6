"""RFC 5322 / MIME messages for IMAP: structure, ENVELOPE, BODYSTRUCTURE,
sections in the CRLF view, search text, sort keys and threading.

Pure and synchronous: bytes in, typed values out.  No IMAP wire syntax.
"""

from .address import Address, parse_address_list
from .bodystructure import BodyStructure, Disposition, MultiPartBody, SinglePartBody, body_structure
from .crlf import crlf_length, to_crlf
from .envelope import Envelope, envelope, envelope_from_headers
from .headers import Headers, header_block_complete, header_bounds
from .mimeparse import MimePart, parse_header_only, parse_message
from .sections import Section, SectionContent, find_part, rfc822_size, section_content

__all__ = [
    "Address", "BodyStructure", "Disposition", "Envelope", "Headers", "MimePart",
    "MultiPartBody", "Section", "SectionContent", "SinglePartBody", "body_structure",
    "crlf_length", "envelope", "envelope_from_headers", "find_part", "header_block_complete",
    "header_bounds", "parse_address_list", "parse_header_only", "parse_message",
    "rfc822_size", "section_content", "to_crlf",
]
