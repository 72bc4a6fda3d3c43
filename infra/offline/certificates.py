"""The host's CA certificates that Debian's bundle lacks.

This network intercepts TLS with its own CA, which the host trusts (its
/etc/ssl/certs/ca-certificates.crt has it). The images need it too, for pip. The
certificates of the host's bundle missing from the root file system's bundle are
written to /usr/local/share/ca-certificates/, where `update-ca-certificates` (run when
the base is made, and again by any later package that triggers it) adds them to the
system bundle.
"""

from __future__ import annotations

import re

HOST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL)


def pem_blocks(text: str) -> list[str]:
    """Every certificate of a PEM bundle, normalised (base64 body without whitespace)."""
    return ["".join(match.group(1).split()) for match in _PEM.finditer(text)]


def to_pem(body: str) -> str:
    lines = [body[index : index + 64] for index in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def extra_certificates(host_bundle: str, image_bundle: str) -> list[str]:
    """The host's certificates the image lacks, as PEM texts, in the host's order."""
    known = set(pem_blocks(image_bundle))
    extras: list[str] = []
    for body in pem_blocks(host_bundle):
        if body not in known:
            known.add(body)
            extras.append(to_pem(body))
    return extras
