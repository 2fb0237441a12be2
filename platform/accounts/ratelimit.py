"""Brute-force protection for password sign-in (login page, admin, HTTP Basic).

Failed attempts are counted in a shared cache (settings.LOGIN_RATE_CACHE: Redis when
CACHE_URL is set, so every web process counts together) per account and per client
address. When either count reaches its limit within LOGIN_FAILURE_WINDOW seconds, that
account or address is locked for LOGIN_LOCKOUT_SECONDS: every attempt is refused, the
right password included, until the lock expires. Refused attempts do not extend it.

The per-account lock means an attacker can keep a known user name locked out; that is
the accepted price of stopping password guessing from many addresses at once.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches


@dataclass(frozen=True)
class Limits:
    per_user: int
    per_address: int
    window: int
    lockout: int


def limits() -> Limits:
    return Limits(
        per_user=settings.LOGIN_MAX_FAILURES_PER_USER,
        per_address=settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        window=settings.LOGIN_FAILURE_WINDOW,
        lockout=settings.LOGIN_LOCKOUT_SECONDS,
    )


def _cache():
    return caches[settings.LOGIN_RATE_CACHE]


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or the address our own proxy put last in
    X-Forwarded-For when settings.LOGIN_RATE_TRUST_FORWARDED_FOR says one is in front
    (a client can write anything in that header, but not after our proxy)."""
    if request is None:
        return ""
    if getattr(settings, "LOGIN_RATE_TRUST_FORWARDED_FOR", False):
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")


def _subjects(username: str | None, address: str) -> list[tuple[str, int]]:
    """Cache key stems and their limits; names are hashed (any length, any characters)."""
    lim = limits()
    subjects = []
    if username:
        digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
        subjects.append((f"login-rate:user:{digest}", lim.per_user))
    if address:
        digest = hashlib.sha256(address.encode()).hexdigest()[:32]
        subjects.append((f"login-rate:addr:{digest}", lim.per_address))
    return subjects


def wait_seconds(username: str | None, address: str) -> int:
    """Seconds until sign-in may be tried again for this account / address (0: now)."""
    subjects = _subjects(username, address)
    if not subjects:
        return 0
    locks = _cache().get_many([f"{stem}:lock" for stem, _ in subjects])
    until = max(locks.values(), default=0)
    return max(0, math.ceil(until - time.time()))


def record_failure(username: str | None, address: str) -> None:
    lim = limits()
    cache = _cache()
    for stem, limit in _subjects(username, address):
        count_key = f"{stem}:count"
        cache.add(count_key, 0, timeout=lim.window)
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.set(count_key, 1, timeout=lim.window)
            count = 1
        if count >= limit:
            cache.set(f"{stem}:lock", time.time() + lim.lockout, timeout=lim.lockout)
            cache.delete(count_key)


def record_success(username: str | None) -> None:
    """A right password outside a lock forgets the account's earlier failures (not the
    address's: one good account must not reset guessing at others from there)."""
    subjects = _subjects(username, "")
    if subjects:
        _cache().delete(f"{subjects[0][0]}:count")


def wait_message(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    span = f"{minutes} minute{'s' if minutes != 1 else ''}" if seconds > 60 else f"{seconds} seconds"
    return f"Too many failed sign-in attempts for this account or address. Try again in {span}."
