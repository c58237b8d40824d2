"""Sealing secrets to the worker's public key: X25519 + HKDF-SHA256 + AES-256-GCM.

The TUI and CLI only ever hold the public key (stored in activity_settings), so they can seal a password
an operator types but can never read one back. Only the worker, holding the private key file, unseals.
A sealed value reads ``dsm-sealed:v1:<key id>:<base64(ephemeral public key | nonce | ciphertext)>``; the
key id (first 16 hex digits of the public key's SHA-256) lets the worker say "sealed with another key"
instead of a bare decryption failure after a key rotation.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dsm_core.credentials.secret import Secret

PREFIX = "dsm-sealed:v1:"
_INFO = b"dsm sealed secret v1"
_NONCE_LEN = 12
_KEY_LEN = 32


class SealingError(Exception):
    """A sealed value could not be opened, or a key could not be used. Never carries the secret."""


class KeyFilePermissionError(SealingError):
    pass


def key_id(public_key: X25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_public_key(public_key: X25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(text: str) -> X25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return X25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise SealingError("the stored sealing public key is not a base64 X25519 key; re-run `dsm init`") from exc


def _derive(shared: bytes, ephemeral_raw: bytes, recipient_raw: bytes) -> bytes:
    # Binding both public keys into the salt ties the derived key to this exact exchange.
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=ephemeral_raw + recipient_raw,
                info=_INFO).derive(shared)


def seal(plaintext: str | Secret, public_key: X25519PublicKey) -> str:
    value = plaintext.reveal() if isinstance(plaintext, Secret) else plaintext
    ephemeral = X25519PrivateKey.generate()
    eph_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rec_raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = _derive(ephemeral.exchange(public_key), eph_raw, rec_raw)
    nonce = os.urandom(_NONCE_LEN)
    ciphertext = AESGCM(key).encrypt(nonce, value.encode("utf-8"), PREFIX.encode("ascii"))
    blob = base64.b64encode(eph_raw + nonce + ciphertext).decode("ascii")
    return f"{PREFIX}{key_id(public_key)}:{blob}"


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)


def unseal(sealed: str, private_key: X25519PrivateKey) -> Secret:
    if not is_sealed(sealed):
        raise SealingError("value is not a DSM sealed secret")
    try:
        kid, blob_text = sealed[len(PREFIX):].split(":", 1)
        blob = base64.b64decode(blob_text, validate=True)
    except ValueError as exc:
        raise SealingError("sealed secret is malformed") from exc
    public = private_key.public_key()
    if kid != key_id(public):
        raise SealingError(f"secret was sealed with key {kid}, but this worker holds key {key_id(public)}; "
                           "re-enter the password or install the matching worker key")
    if len(blob) < 32 + _NONCE_LEN + 16:
        raise SealingError("sealed secret is truncated")
    eph_raw, nonce, ciphertext = blob[:32], blob[32:32 + _NONCE_LEN], blob[32 + _NONCE_LEN:]
    rec_raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = _derive(private_key.exchange(X25519PublicKey.from_public_bytes(eph_raw)), eph_raw, rec_raw)
    try:
        plain = AESGCM(key).decrypt(nonce, ciphertext, PREFIX.encode("ascii"))
    except InvalidTag as exc:
        raise SealingError("sealed secret failed authentication (tampered or corrupted)") from exc
    return Secret(plain.decode("utf-8"))


def create_key_file(path: Path) -> tuple[X25519PrivateKey, bool]:
    """Create the worker's private key at ``path`` (mode 0600) unless one exists; never overwrite.

    Returns the key and whether it was created now.
    """
    if path.exists():
        return load_private_key(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = X25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another `dsm init` won the race: use its key
        return load_private_key(path), False
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key, True


def load_private_key(path: Path) -> X25519PrivateKey:
    """Load the worker key, refusing a file that anyone but its owner can read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SealingError(f"worker key {path} does not exist; run `dsm init` on this host "
                           "or copy the key from the first worker host (mode 0600)") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFilePermissionError(
            f"worker key {path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run `chmod 600 {path}` and start again")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise SealingError(f"worker key {path} is not a PEM private key") from exc
    if not isinstance(key, X25519PrivateKey):
        raise SealingError(f"worker key {path} is not an X25519 key")
    return key
