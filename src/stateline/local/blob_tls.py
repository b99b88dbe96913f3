"""Mutual TLS for the embedded SeaweedFS's gRPC ports.

JWT (:mod:`blob_security`) guards the HTTP ports only. The gRPC ports
(HTTP port + 10000, 127.0.0.1) answer anyone otherwise, and they expose
content: as ``nobody``, ``weed backup -server=127.0.0.1:MASTER -volumeId=1``
copied a whole volume file over the volume server's gRPC, and ``weed shell``
listed the bucket's entries and file ids over the filer's.

SeaweedFS's remedy is ``[grpc]`` in ``security.toml``: a CA, and a
certificate per component; a server given a CA requires and verifies the
client's certificate. stateline makes a private CA and one certificate
(``CN=stateline``, for 127.0.0.1 and localhost) that every component uses as
server and as client. The CA's key is not kept: no further certificate is
ever needed (delete the folder's ``tls`` to make new ones). Keys are 0600 in
the 0700 folder; another user has nothing to present.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The components whose gRPC server gets the certificate, plus the client side.
COMPONENTS = ("master", "volume", "filer", "s3", "client")
COMMON_NAME = "stateline"
VALID_DAYS = 36500


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def load_or_make_certs(folder: Path) -> dict[str, Path]:
    """``ca``, ``cert`` and ``key`` files in ``folder`` (0700), made once."""
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    paths = {"ca": folder / "ca.crt", "cert": folder / "node.crt", "key": folder / "node.key"}
    if all(p.exists() for p in paths.values()):
        return paths
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("stateline local CA"))
          .issuer_name(_name("stateline local CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start)
          .not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(COMMON_NAME))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(paths["key"], key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    _write_private(paths["cert"], cert.public_bytes(serialization.Encoding.PEM))
    _write_private(paths["ca"], ca.public_bytes(serialization.Encoding.PEM))
    return paths


def render(paths: dict[str, Path]) -> str:
    """The ``[grpc]`` part of ``security.toml`` for ``paths``."""
    out = [f'\n[grpc]\nca = "{paths["ca"]}"\n']
    for component in COMPONENTS:
        out.append(f'\n[grpc.{component}]\ncert = "{paths["cert"]}"\nkey = "{paths["key"]}"\n')
    return "".join(out)
