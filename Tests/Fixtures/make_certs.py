#!/usr/bin/env python3
"""Writes test certificates into DIR (PyPI `cryptography`):
  ca.pem                         a test CA
  valid.pem/.key                 localhost + 127.0.0.1, signed by the CA, valid a year
  expired.pem/.key               signed by the CA, expired 10 days ago
  expiring.pem/.key              signed by the CA, expires in 5 days
  selfsigned.pem/.key            self-signed for localhost
  wrongname.pem/.key             signed by the CA for other.example only
"""
import datetime
import ipaddress
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def write(name, cert, private_key):
    with open(f"{out}/{name}.pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    if private_key is not None:
        with open(f"{out}/{name}.key", "wb") as f:
            f.write(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


ca_key = key()
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sre-diagnose test CA")])
ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
      .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=400))
      .not_valid_after(now + datetime.timedelta(days=3650))
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
      .sign(ca_key, hashes.SHA256()))
write("ca", ca, None)


def leaf(name, dns, start, end, signer_key=ca_key, issuer=ca_name):
    private_key = key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    sans = [x509.DNSName(d) for d in dns]
    if "localhost" in dns:
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer if issuer is not None else subject)
               .public_key(private_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    cert = builder.sign(signer_key if signer_key is not None else private_key, hashes.SHA256())
    write(name, cert, private_key)


leaf("valid", ["localhost"], now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))
leaf("expired", ["localhost"], now - datetime.timedelta(days=100), now - datetime.timedelta(days=10))
leaf("expiring", ["localhost"], now - datetime.timedelta(days=80), now + datetime.timedelta(days=5))
leaf("wrongname", ["other.example"], now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))
self_key = key()
self_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
self_cert = (x509.CertificateBuilder().subject_name(self_name).issuer_name(self_name).public_key(self_key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=365))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
             .sign(self_key, hashes.SHA256()))
write("selfsigned", self_cert, self_key)
