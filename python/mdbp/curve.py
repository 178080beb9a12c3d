"""CURVE keys for the client sockets (feedback.md 1.1, docs/security.md):
reads the czmq certificate files that `mds-coordinator keygen NAME` writes
(NAME: the public certificate, NAME_secret: both keys).

    keys = client_keys("keys/feed-1_secret", "keys/coordinator")
    client = FeedbackClient([endpoint], curve=keys)
    producer = Producer(endpoint, curve=keys)"""
import collections
import re

Z85_KEY_CHARS = 40  # a 32-byte CurveZMQ key in Z85
_KEY_LINE = re.compile(r'^\s+(public-key|secret-key)\s*=\s*"([^"]*)"\s*$')

CurveKeys = collections.namedtuple("CurveKeys",
                                   "public_key secret_key server_key")


class CertificateError(ValueError):
    """A file that is not a czmq certificate with the keys needed."""


def read_certificate(path):
    """(public_key, secret_key or None) of a czmq certificate file, the keys
    as Z85 bytes. Only the `curve` section's key lines are read."""
    keys = {}
    section = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                section = line.strip()
                continue
            match = _KEY_LINE.match(line.rstrip("\n"))
            if section == "curve" and match:
                if len(match.group(2)) != Z85_KEY_CHARS:
                    raise CertificateError("%s: %s is not %d Z85 characters"
                                           % (path, match.group(1),
                                              Z85_KEY_CHARS))
                keys[match.group(1)] = match.group(2).encode("ascii")
    if "public-key" not in keys:
        raise CertificateError("%s: no public-key in a curve section" % path)
    return keys["public-key"], keys.get("secret-key")


def client_keys(client_secret_file, server_public_file):
    """The CurveKeys of a client: its own pair from its NAME_secret file and
    the coordinator's public key from its public certificate."""
    public, secret = read_certificate(client_secret_file)
    if secret is None:
        raise CertificateError("%s: no secret-key (give the NAME_secret file)"
                               % client_secret_file)
    server, _ = read_certificate(server_public_file)
    return CurveKeys(public, secret, server)


def apply(socket, keys):
    """Makes `socket` a CURVE client with `keys` (call before connect);
    nothing when keys is None."""
    if keys is None:
        return
    socket.curve_publickey = keys.public_key
    socket.curve_secretkey = keys.secret_key
    socket.curve_serverkey = keys.server_key
