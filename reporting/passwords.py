"""Password hashes: Argon2id at OWASP's parameters, one hash computed per check.

OWASP's Password Storage Cheat Sheet lists Argon2id with 19 MiB of memory, 2 iterations and 1 degree
of parallelism as its first configuration: memory-hard like scrypt, at about a fifth of the CPU of
werkzeug's scrypt (2^15, 8, 1), so that a deadline morning's logins do not crowd out the filing.
Hashes written before (werkzeug's `scrypt:…`) still verify; a successful check of one returns its
Argon2id replacement, once, and nothing rehashes a current hash.
"""
from __future__ import annotations

from typing import Optional

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

#: OWASP: Argon2id, m = 19 MiB (19,456 KiB), t = 2, p = 1
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(stored: str, password: str) -> tuple[bool, Optional[str]]:
    """Whether `password` matches `stored`, and the hash to store instead when it is of an older
    kind or weaker parameters (None when `stored` is current, or the password is wrong)."""
    if stored.startswith("$argon2"):
        try:
            HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, hash_password(password) if HASHER.check_needs_rehash(stored) else None
    if stored and check_password_hash(stored, password):
        return True, hash_password(password)
    return False, None
