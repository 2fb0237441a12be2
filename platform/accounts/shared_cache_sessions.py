"""Session store for sites with a shared cache (CACHE_URL, Redis): Django's cached_db.

Every web process reads sessions through the same Redis, so a logout handled by one
process (which deletes the cached copy and the row) is refused by all the others on
their next request; the database keeps every session for when the cache loses one. A
session read from Redis costs the web process less CPU than the database round trip
(tests/bench/bench_library.py), and the database none. On a cache miss the row is read
with accounts.session_store's fixed SELECT.

Only a cache that all web processes share may back this engine: settings.py selects it
only with CACHE_URL. Deleting a session row by hand, behind Django's back, leaves the
cached copy valid until it expires; ending sessions goes through the store (logout) or
through the user (deactivation and password changes are checked on the fresh user row
that every request loads).
"""

from __future__ import annotations

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDatabaseSessionStore

from accounts.session_store import FixedSelectRead


class SessionStore(FixedSelectRead, CachedDatabaseSessionStore):
    pass
