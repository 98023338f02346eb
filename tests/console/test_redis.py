"""With REDIS_URL set, console processes share one cache and one channel layer through a real Redis."""


def _settings_with(redis_url: str) -> dict:
    """The console's settings module, evaluated with REDIS_URL set."""
    import os
    import runpy

    os.environ["REDIS_URL"] = redis_url
    try:
        return runpy.run_path("dashboard/settings.py")
    finally:
        del os.environ["REDIS_URL"]


def test_the_cache_is_shared_through_redis(redis_url: str) -> None:
    from django.core.cache.backends.redis import RedisCache

    config = _settings_with(redis_url)["CACHES"]["default"]
    one, two = (RedisCache(config["LOCATION"], {}) for _ in range(2))  # two processes' caches
    one.set("sign-in-failures", 3)
    assert two.get("sign-in-failures") == 3


async def test_the_channel_layer_reaches_another_process_through_redis(redis_url: str) -> None:
    from channels_redis.core import RedisChannelLayer

    config = _settings_with(redis_url)["CHANNEL_LAYERS"]["default"]
    assert config["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    sender, receiver = (RedisChannelLayer(**config["CONFIG"]) for _ in range(2))
    channel = await receiver.new_channel()
    await receiver.group_add("updates", channel)
    await sender.group_send("updates", {"type": "update.message", "text": "runtime.started"})
    assert (await receiver.receive(channel))["text"] == "runtime.started"
    await receiver.flush()


async def test_an_idle_receive_outlasts_the_blocking_pop(redis_url: str) -> None:
    """channels_redis blocks 5 s per pop; a read timeout no longer than that closed idle sockets."""
    import asyncio

    from channels_redis.core import RedisChannelLayer

    config = _settings_with(redis_url)["CHANNEL_LAYERS"]["default"]
    sender, receiver = (RedisChannelLayer(**config["CONFIG"]) for _ in range(2))
    channel = await receiver.new_channel()
    waiting = asyncio.ensure_future(receiver.receive(channel))
    await asyncio.sleep(receiver.brpop_timeout + 1)  # a whole blocking pop with nothing to read
    await sender.send(channel, {"type": "update.message", "text": "still here"})
    assert (await asyncio.wait_for(waiting, 30))["text"] == "still here"
