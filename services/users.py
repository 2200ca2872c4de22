"""Users of AUTH=basic: a JSON file of salted scrypt hashes and roles, and `python -m services.users`."""

from __future__ import annotations

import argparse
import getpass
import hmac
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field, ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from airflow_backtest_framework.config import OWNER_PATTERN
from services.auth import Principal, Role
from services.errors import BadRequest, NotFound

log = logging.getLogger(__name__)

# scrypt: salted and memory-hard; werkzeug's format records its parameters, so they can change later.
HASH_METHOD = "scrypt"
FILE_MODE = 0o600
MIN_PASSWORD_CHARS = 8
# A verified (name, password) is remembered this long: scrypt costs ~0.1 s (much more on a loaded
# machine), and a browser signed in with Basic sends its credentials with every request. A removed user
# or a new password still takes effect at once (the key holds the stored hash, the file is re-read).
VERIFIED_TTL_S = 3600.0
VERIFIED_MAX_ENTRIES = 1024


class UserEntry(BaseModel):
    password_hash: str
    role: Role = Role.VIEWER


class UsersFile(BaseModel):
    users: dict[str, UserEntry] = Field(default_factory=dict)


def hash_password(password: str) -> str:
    """A salted scrypt hash (a new random salt each call)."""
    return generate_password_hash(password, method=HASH_METHOD)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def check_name(name: str) -> str:
    """A user name is also a sweep owner: SweepConfig's owner pattern."""
    if not OWNER_PATTERN.fullmatch(name):
        raise BadRequest(f"user name {name!r}: use letters, digits or . _ - @ (at most 64)")
    return name


class VerifiedCache(Protocol):
    """Where verified credentials are remembered (diskcache.Cache: shared by the workers)."""

    def get(self, key: str, default: object = None) -> object: ...

    def set(self, key: str, value: object, expire: float | None = None) -> object: ...


class UserStore:
    """The users file: read on change (mtime), written atomically with mode 0600.

    `verified` remembers checked credentials under an HMAC of (name, password, stored hash) with
    `cache_key`, so no password is kept; a cache shared by the workers checks each user once, not once
    per worker. Without one, a dict in this process."""

    def __init__(
        self, path: Path, verified: VerifiedCache | None = None, cache_key: bytes | None = None
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded: tuple[float, UsersFile] | None = None
        self._local: dict[str, float] = {}
        self._verified = verified
        self._cache_key = cache_key or secrets.token_bytes(32)

    def load(self) -> UsersFile:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return UsersFile()
        with self._lock:
            if self._loaded is None or self._loaded[0] != mtime:
                try:
                    self._loaded = (mtime, UsersFile.model_validate_json(self.path.read_bytes()))
                except (OSError, ValidationError) as exc:
                    log.error("users file %s unreadable: %s", self.path, exc)
                    return UsersFile()
            return self._loaded[1]

    def save(self, data: UsersFile) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data.model_dump_json(indent=1))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def set_password(self, name: str, password: str, role: Role | None = None) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise BadRequest(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
        data = self.load().model_copy(deep=True)
        old = data.users.get(check_name(name))
        data.users[name] = UserEntry(
            password_hash=hash_password(password), role=role or (old.role if old else Role.VIEWER)
        )
        self.save(data)

    def set_role(self, name: str, role: Role) -> None:
        data = self.load().model_copy(deep=True)
        if name not in data.users:
            raise NotFound(f"no user named {name!r}")
        data.users[name] = data.users[name].model_copy(update={"role": role})
        self.save(data)

    def remove(self, name: str) -> None:
        data = self.load().model_copy(deep=True)
        if data.users.pop(name, None) is None:
            raise NotFound(f"no user named {name!r}")
        self.save(data)

    def verify(self, name: str, password: str) -> Principal | None:
        """The user's Principal when the password is right, else None."""
        entry = self.load().users.get(name)
        if entry is None:
            return None
        message = f"{name}\0{password}\0{entry.password_hash}".encode()
        key = hmac.digest(self._cache_key, message, "sha256").hex()
        if self._seen(key):
            return Principal(name=name, role=entry.role)
        if not verify_password(entry.password_hash, password):
            return None
        self._remember(key)
        return Principal(name=name, role=entry.role)

    def _seen(self, key: str) -> bool:
        if self._verified is not None:
            return bool(self._verified.get(key, False))
        return self._local.get(key, 0.0) > time.monotonic()

    def _remember(self, key: str) -> None:
        if self._verified is not None:
            self._verified.set(key, True, expire=VERIFIED_TTL_S)
            return
        if len(self._local) >= VERIFIED_MAX_ENTRIES:
            self._local.clear()
        self._local[key] = time.monotonic() + VERIFIED_TTL_S


def _read_password(stdin: bool) -> str:
    """From a prompt (twice) or, with --stdin, the first line of standard input: never from argv."""
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise BadRequest("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    from services.settings import SettingsError, load_settings

    parser = argparse.ArgumentParser(prog="python -m services.users", description="Users of AUTH=basic.")
    parser.add_argument("--file", type=Path, help="the users file (default: AUTH_USERS_FILE)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user or set a new password (asked, or --stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=[r.value for r in Role], default=None)
    add.add_argument("--stdin", action="store_true", help="read the password from standard input")
    commands.add_parser("remove", help="remove a user").add_argument("name")
    commands.add_parser("list", help="names and roles")
    set_role = commands.add_parser("set-role", help="change a user's role")
    set_role.add_argument("name")
    set_role.add_argument("role", choices=[r.value for r in Role])
    args = parser.parse_args(argv)
    try:
        store = UserStore(args.file or load_settings().auth_users_file)
        if args.command == "add":
            store.set_password(args.name, _read_password(args.stdin), Role(args.role) if args.role else None)
        elif args.command == "remove":
            store.remove(args.name)
        elif args.command == "set-role":
            store.set_role(args.name, Role(args.role))
        else:
            for name, entry in sorted(store.load().users.items()):
                sys.stdout.write(f"{name}\t{entry.role}\n")
            return 0
    except (BadRequest, NotFound, SettingsError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(f"{args.command} {args.name}: done ({store.path})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
