"""Password hashes: Argon2id at OWASP's parameters; an older scrypt hash is replaced once, at a
successful login, and a current one is never rehashed."""
from __future__ import annotations

from unittest import mock

from argon2 import PasswordHasher
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from reporting import passwords
from reporting.extensions import db
from reporting.models import User

from .conftest import make_user

PASSWORD = "长江-黄河-2026-参保"


def login(client, username, password):
    return client.post("/login", data={"username": username, "password": password})


def stored_hash(username: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(User.password_hash).where(User.username == username))


def test_scrypt_hash_is_replaced_once_at_login_then_left_alone(client, jiangmen):
    user = make_user("old", "viewer", "4407", password=PASSWORD)
    user.password_hash = generate_password_hash(PASSWORD, method="scrypt")
    db.session.commit()

    assert login(client, "old", "wrong-password-123").status_code == 200
    assert stored_hash("old").startswith("scrypt:")  # a wrong password upgrades nothing

    assert login(client, "old", PASSWORD).status_code == 303
    upgraded = stored_hash("old")
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    client.post("/logout")
    counting = Counting(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
    with mock.patch.object(passwords, "HASHER", counting):
        assert login(client, "old", PASSWORD).status_code == 303
    assert stored_hash("old") == upgraded
    assert counting.calls == ["verify"]  # one hash per login, no rehash of a current hash


class Counting(PasswordHasher):
    """The hasher, counting what it computes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def hash(self, *args, **kwargs):
        self.calls.append("hash")
        return super().hash(*args, **kwargs)

    def verify(self, *args, **kwargs):
        self.calls.append("verify")
        return super().verify(*args, **kwargs)


def test_weaker_argon2_parameters_are_upgraded(jiangmen):
    user = make_user("weak", "viewer", "4407", password=PASSWORD)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert not user.check_password("not the password")
    assert "m=8192" in user.password_hash
    assert user.check_password(PASSWORD)
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_unreadable_hash_refuses(jiangmen):
    user = make_user("broken", "viewer", "4407", password=PASSWORD)
    user.password_hash = "$argon2id$garbage"
    assert not user.check_password(PASSWORD)
    user.password_hash = ""
    assert not user.check_password(PASSWORD)
