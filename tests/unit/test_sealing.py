"""Sealing: only the private key opens a sealed password; the key file guards itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from dsm_core.credentials.sealing import (
    KeyFilePermissionError,
    SealingError,
    create_key_file,
    decode_public_key,
    encode_public_key,
    is_sealed,
    load_private_key,
    seal,
    unseal,
)
from dsm_core.credentials.secret import Secret

KEY = X25519PrivateKey.generate()


@settings(max_examples=50)
@given(st.text(max_size=200))
def test_round_trip(plain: str) -> None:
    sealed = seal(plain, KEY.public_key())
    assert is_sealed(sealed)
    assert unseal(sealed, KEY).reveal() == plain
    if len(plain) >= 4:
        assert plain not in sealed


def test_each_seal_is_different() -> None:
    assert seal("calvin", KEY.public_key()) != seal("calvin", KEY.public_key())


def test_other_key_cannot_open_and_says_why() -> None:
    sealed = seal("calvin", KEY.public_key())
    with pytest.raises(SealingError, match="sealed with key"):
        unseal(sealed, X25519PrivateKey.generate())


def test_tampering_is_detected() -> None:
    sealed = seal("calvin", KEY.public_key())
    head, blob = sealed.rsplit(":", 1)
    flipped = blob[:-6] + ("A" if blob[-6] != "A" else "B") + blob[-5:]
    with pytest.raises(SealingError):
        unseal(f"{head}:{flipped}", KEY)


def test_public_key_text_round_trips() -> None:
    text = encode_public_key(KEY.public_key())
    sealed = seal("x", decode_public_key(text))
    assert unseal(sealed, KEY).reveal() == "x"
    with pytest.raises(SealingError, match="dsm init"):
        decode_public_key("not base64!")


def test_key_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "worker.key"
    key, created = create_key_file(path)
    assert created and (path.stat().st_mode & 0o777) == 0o600
    before = path.read_bytes()
    again, created_again = create_key_file(path)
    assert not created_again and path.read_bytes() == before
    assert encode_public_key(again.public_key()) == encode_public_key(key.public_key())


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_group_or_world_readable_key_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "worker.key"
    create_key_file(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFilePermissionError, match="chmod 600"):
        load_private_key(path)


def test_missing_key_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SealingError, match="dsm init"):
        load_private_key(tmp_path / "nope.key")


def test_secret_hides_itself() -> None:
    s = Secret("hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"
    assert s.reveal() == "hunter2"
