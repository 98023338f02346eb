"""The console's settings for the PostgreSQL test run: `pytest --ds tests.postgres_settings -m database`.

Django reads this instead of dashboard.settings; importing it starts a PostgreSQL server
(tests/support/postgres_server.py) whose `console` database the tests use (pytest-django makes
`test_console` beside it), and tells tests/support/databases.py that every engine and console
process of this run gets its own database there.
"""

import environ

from dashboard.settings import *  # noqa: F403
from dashboard.settings import DATABASES
from tests.support.databases import use_postgres
from tests.support.postgres_server import shared_server

_server = shared_server()
use_postgres(_server)
DATABASES["default"] = environ.Env.db_url_config(_server.create_database("console"))
