"""Certificates for TLS tests, made with the openssl command line in a
folder of the test's own: a CA, and certificates it signs for servers and
clients (for another name, or already expired, when a test needs that).
Keys are P-256, which openssl makes in milliseconds."""

import hashlib
import os
import ssl
import subprocess

from hellodtest import TIMEOUT, scratch_dir

SERVER_NAMES = "DNS:localhost,IP:127.0.0.1,IP:::1"


def _openssl(folder, *args):
    r = subprocess.run(["openssl"] + list(args), cwd=folder,
                       capture_output=True, timeout=TIMEOUT * 2)
    assert r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr.decode())


class Pair:
    """A certificate and its key, as files."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key

    def fingerprint(self):
        """SHA-256 of the certificate's DER, as a client sees it."""
        with open(self.cert) as f:
            pem = f.read()
        first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


class Authority:
    """A test CA.  issue() makes certificates it signs."""

    def __init__(self, name="hellod test CA"):
        self.dir = scratch_dir("hellod-tls-")
        self.ca = self._path(name)
        _openssl(self.dir, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", self.ca.key, "-out", self.ca.cert, "-days", "30",
                 "-subj", "/CN=" + name,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign")

    def _path(self, name):
        stem = os.path.join(self.dir, name.replace(" ", "_"))
        return Pair(stem + ".crt", stem + ".key")

    def issue(self, cn, names=SERVER_NAMES, days=30, client=False):
        """A certificate for cn; days=-1 makes one that expired yesterday.
        The chain file holds it and the CA, as servers send them."""
        pair = self._path(cn + ("-client" if client else "") + "-%d" % days)
        csr, ext = pair.cert + ".csr", pair.cert + ".ext"
        usage = "clientAuth" if client else "serverAuth"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n" % usage)
            if not client:
                f.write("subjectAltName=%s\n" % names)
        _openssl(self.dir, "req", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", pair.key, "-out", csr, "-subj", "/CN=" + cn)
        _openssl(self.dir, "x509", "-req", "-in", csr, "-CA", self.ca.cert,
                 "-CAkey", self.ca.key, "-days", str(days), "-extfile", ext,
                 "-out", pair.cert)
        with open(pair.cert, "a") as chain, open(self.ca.cert) as ca:
            chain.write(ca.read())
        return pair

    def encrypted_key(self):
        """A key file behind a passphrase."""
        path = os.path.join(self.dir, "encrypted.key")
        _openssl(self.dir, "genpkey", "-algorithm", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-aes256", "-pass",
                 "pass:secret", "-out", path)
        return path

    def client_context(self, pair=None, check_name=True):
        """What a careful client uses: this CA, the server's name checked,
        and optionally a certificate of its own."""
        ctx = ssl.create_default_context(cafile=self.ca.cert)
        ctx.check_hostname = check_name
        if pair is not None:
            ctx.load_cert_chain(pair.cert, pair.key)
        return ctx


def tls_conf(pair, extra=""):
    """The config lines for a TLS listener on loopback with pair."""
    return ('tls_bind = ["127.0.0.1"];\ntls_port = 0;\n'
            'tls_certificate = "%s";\ntls_key = "%s";\n%s'
            % (pair.cert, pair.key, extra))
