"""config.redis_cache: Django's Redis cache keeping one redis client, against real Redis."""

from __future__ import annotations

import os
import threading
import uuid

from config.redis_cache import RedisCache

REDIS = os.environ.get("CACHE_URL") or "redis://127.0.0.1:6379/13"


def make_cache() -> RedisCache:
    return RedisCache(REDIS, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})


def test_values_round_trip_expire_and_delete():
    cache = make_cache()
    cache.set("session", {"user": 7, "role": "resident"}, 30)
    assert cache.get("session") == {"user": 7, "role": "resident"}
    assert cache.add("session", "other") is False
    cache.delete("session")
    assert cache.get("session") is None
    cache.set("gone", 1, timeout=-1)  # already expired
    assert cache.get("gone") is None


def test_one_client_is_kept_and_shared_between_threads():
    cache = make_cache()
    first = cache._cache.get_client()
    assert cache._cache.get_client() is first
    seen = []

    def work(i: int) -> None:
        for j in range(50):
            cache.set(f"k{i}-{j}", j)
            seen.append(cache.get(f"k{i}-{j}") == j)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200 and all(seen)
    assert cache._cache.get_client() is first


def test_another_cache_object_on_the_same_server_sees_the_values():
    """What a second web process does: its own objects, the same Redis."""
    writer = make_cache()
    reader = RedisCache(REDIS, {"KEY_PREFIX": writer.key_prefix})
    writer.set("shared", "yes")
    assert reader.get("shared") == "yes"
    writer.delete("shared")
    assert reader.get("shared") is None
