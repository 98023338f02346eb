"""Console test fixtures: the console's client pointed at the real engine, and named personas."""

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from dashboard.bctrl.client import reset_clients, use_transport
from tests.support.engine_process import EngineProcess
from tests.support.redis_server import REDIS, RedisServer


@pytest.fixture(autouse=True)
def console_api(settings, engine: EngineProcess) -> Iterator[EngineProcess]:
    """Every console test talks to the session's real engine over HTTP, with an admin key."""
    settings.BCTRL_API_URL = f"{engine.url}/v1"
    settings.BCTRL_API_KEY = engine.keys["admin"]
    settings.BCTRL_RETRIES = 1
    settings.ALERTS_ENABLED = False  # no watcher in the tests' short-lived loops (test_alerts drives it)
    # Personas sign in with real passwords; a fast hasher keeps each one from costing seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_clients()
    yield engine
    use_transport(None)
    reset_clients()


def _persona(username: str, role: str) -> User:
    user = User.objects.create_user(username, password="correct horse battery staple")
    # get_or_create: a transactional test flushes the tables, data-migration rows included
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def alice(db) -> User:
    """Alice is an admin."""
    return _persona("alice", "admin")


@pytest.fixture
def oscar(db) -> User:
    """Oscar is an operator."""
    return _persona("oscar", "operator")


@pytest.fixture
def vera(db) -> User:
    """Vera is a viewer."""
    return _persona("vera", "viewer")


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(alice: User) -> Client:
    return _client_for(alice)


@pytest.fixture
def operator_client(oscar: User) -> Client:
    return _client_for(oscar)


@pytest.fixture
def viewer_client(vera: User) -> Client:
    return _client_for(vera)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of the module's own (for settings with REDIS_URL)."""
    if REDIS is None:
        pytest.fail("redis-server is missing: bin/setup installs it")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()
