"""A development CA and the hub's leafnode certificate (PyPI cryptography).

`sightline certs init` (or the first `sightline up`) writes, under
<state dir>/tls: ca.pem / ca-key.pem (the CA the glasses trust) and
hub.pem / hub-key.pem (the hub's leafnode server certificate for localhost,
127.0.0.1 and any --host given). Keys are 0600. For development only: a
production hub uses a certificate from the operator's own PKI.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sightline_runtime.auth import write_secret

CA_DAYS = 3650
CERT_DAYS = 825


@dataclass(frozen=True)
class TlsFiles:
    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.root / "hub.pem"

    @property
    def key(self) -> Path:
        return self.root / "hub-key.pem"

    def exist(self) -> bool:
        return all(path.exists() for path in (self.ca, self.cert, self.key))

    def server_block(self) -> dict[str, object]:
        """nats-server's leafnodes.tls: serve the hub certificate (the glasses
        authenticate with their credentials, not client certificates)."""
        return {"cert_file": str(self.cert), "key_file": str(self.key), "timeout": 5}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sightline dev"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def create(root: Path, *, hosts: list[str] | tuple[str, ...] = (), force: bool = False) -> TlsFiles:
    """Write the CA and the hub certificate (keeps existing ones unless force)."""
    files = TlsFiles(root)
    if files.exist() and not force:
        return files
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Sightline dev CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("sightline-hub"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret(files.ca_key, _pem_key(ca_key))
    write_secret(files.key, _pem_key(key))
    files.ca.write_text(ca.public_bytes(serialization.Encoding.PEM).decode())
    files.cert.write_text(cert.public_bytes(serialization.Encoding.PEM).decode())
    return files
