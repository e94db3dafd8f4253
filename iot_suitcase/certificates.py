"""The TLS certificates of an installation (`suitcase init`): a certificate authority of its own, and for the
names devices and staff reach the server by, a certificate for the broker and one for the console and HTTP
ingestion.

Devices and browsers are given ``ca.crt`` (public) and check the server against it; the keys never leave
``var/certs`` (mode 0600; the console's is the ingest service's to read, the others root's). An operator with
certificates from the municipality's own CA puts ``ca.crt``, ``server.*`` and ``console.*`` there instead:
files that exist are left alone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iot_suitcase.devices.credentials.mosquitto import write_atomically

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest server certificate life that clients such as Apple's accept


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    """Where the broker's certificate files live (the names Mosquitto's configuration uses)."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def console_cert(self) -> Path:
        return self.folder / "console.crt"

    @property
    def console_key(self) -> Path:
        return self.folder / "console.key"


def make_certificates(files: CertificateFiles, names: list[str], *, now: datetime | None = None) -> list[Path]:
    """A CA (unless ``ca.crt`` exists), and for ``names`` (host names or IP addresses) a certificate for the
    broker (``server.*``) and one for the console and HTTP ingestion (``console.*``, whose key the ingest
    service reads), each unless it exists. Returns the files written."""
    now = now or datetime.now(UTC)
    written: list[Path] = []
    if files.server_cert.exists() and files.console_cert.exists():
        return written
    if files.ca_cert.exists():
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{files.ca_key}: not an EC key; sign the server certificates with your CA yourself")
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, names[0], now)
        written += _write(files.ca_key, _key_pem(ca_key), 0o600)
        written += _write(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    for cert_path, key_path in ((files.server_cert, files.server_key), (files.console_cert, files.console_key)):
        if cert_path.exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _server_certificate(key, names, ca_key, ca_cert, now)
        written += _write(key_path, _key_pem(key), 0o600)
        written += _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return written


def _ca_certificate(key: ec.EllipticCurvePrivateKey, host: str, now: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"iot-suitcase CA ({host})"[:64])])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    names: list[str],
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: datetime,
) -> x509.Certificate:
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, mode: int) -> list[Path]:
    write_atomically(path, data.decode("ascii"), mode=mode)
    return [path]
