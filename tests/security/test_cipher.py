"""Key-length handling: degenerate 3DES keys are single DES, on purpose."""

import pytest

from possim.errors import PossimError
from possim.security import cipher

H = bytes.fromhex


def test_single_des_published_vector() -> None:
    # OpenSSL destest.c ECB vector (also in mbedTLS des test suite "openssl test vector"):
    # key 0123456789ABCDEF, plaintext 0000000000000000 -> D5D44FF720683D0D.
    assert cipher.encrypt_ecb(H("0123456789ABCDEF"), bytes(8)) == H("D5D44FF720683D0D")


@pytest.mark.parametrize(
    ("key", "effective"),
    [
        ("0123456789ABCDEF", "0123456789ABCDEF"),
        ("0123456789ABCDEF0123456789ABCDEF", "0123456789ABCDEF"),
        # differs only in parity bits: DES ignores them, so this is still single DES
        ("0123456789ABCDEF0022446688AACCEE", "0123456789ABCDEF"),
        ("0123456789ABCDEFFEDCBA9876543210", "0123456789ABCDEFFEDCBA9876543210"),
        ("0123456789ABCDEF0123456789ABCDEFFEDCBA9876543210", "FEDCBA9876543210"),  # K1 == K2 -> E(K3)
        ("FEDCBA98765432100123456789ABCDEF0123456789ABCDEF", "FEDCBA9876543210"),  # K2 == K3 -> E(K1)
        ("0123456789ABCDEFFEDCBA98765432100123456789ABCDEF", "0123456789ABCDEFFEDCBA9876543210"),  # K3 == K1
    ],
)
def test_effective_key(key: str, effective: str) -> None:
    assert cipher.effective_key(H(key)) == H(effective)


def test_degenerate_keys_encrypt_like_single_des_without_raising() -> None:
    block = H("4E6F772069732074")
    single = cipher.encrypt_ecb(H("0123456789ABCDEF"), block)
    assert cipher.encrypt_ecb(H("0123456789ABCDEF0123456789ABCDEF"), block) == single
    assert cipher.encrypt_ecb(H("0123456789ABCDEF" * 3), block) == single
    assert cipher.decrypt_ecb(H("0123456789ABCDEF0123456789ABCDEF"), single) == block


def test_triple_length_with_k3_equal_k1_is_double_length() -> None:
    block = H("0000000000000000")
    assert cipher.encrypt_ecb(H("0123456789ABCDEFFEDCBA98765432100123456789ABCDEF"), block) == \
        cipher.encrypt_ecb(H("0123456789ABCDEFFEDCBA9876543210"), block)


def test_bad_key_length() -> None:
    with pytest.raises(PossimError, match="key: expected 8, 16 or 24 bytes, got 10"):
        cipher.ecb(bytes(10))


def test_data_not_block_aligned() -> None:
    with pytest.raises(PossimError, match="data: expected a multiple of 8 bytes, got 7"):
        cipher.encrypt_ecb(H("0123456789ABCDEF"), bytes(7))


def test_refused_partial_block_leaves_the_cached_cipher_intact() -> None:
    # The ECB contexts are kept per key and shared; a partial block must be refused before it reaches
    # one (the context would hold it back and prepend it to the next caller's data).
    key = H("0123456789ABCDEF")
    shared = cipher.ecb(key)
    for op in (shared.encrypt, shared.decrypt):
        with pytest.raises(PossimError, match="data: expected a multiple of 8 bytes, got 7"):
            op(bytes(7))
    # same OpenSSL destest.c vector as above, through the same cached object
    assert cipher.ecb(key) is shared
    assert shared.encrypt(bytes(8)) == H("D5D44FF720683D0D")
    assert shared.decrypt(H("D5D44FF720683D0D")) == bytes(8)


def test_threads_using_one_key_at_once_each_get_a_working_cipher() -> None:
    # cryptography lets other threads run while it encrypts a long input; a context entered by a second
    # thread meanwhile fails ("Already borrowed"). The cached contexts are therefore each thread's own.
    import os
    import threading

    key = H("0123456789ABCDEF")
    data = [os.urandom(4096) for _ in range(8)]
    expected = [cipher.encrypt_ecb(key, d) for d in data]
    errors: list[str] = []
    start = threading.Barrier(3)

    def work() -> None:
        start.wait()
        try:
            for _ in range(150):
                for d, e in zip(data, expected):
                    if cipher.encrypt_ecb(key, d) != e or cipher.decrypt_ecb(key, e) != d:
                        errors.append("wrong bytes")
                        return
        except Exception as exc:  # noqa: BLE001 - what the test is looking for
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cipher.ecb(key) is cipher.ecb(key)  # still cached within a thread
