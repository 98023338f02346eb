"""`python -m tests.support.oidc_provider --fd N --client-id ID --client-secret S --redirect-uri URL`:
migrate its database, register the console as a client, and serve on the inherited socket."""

import argparse
import os
import socket

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"

import django
import uvicorn

parser = argparse.ArgumentParser()
parser.add_argument("--fd", type=int, required=True)
parser.add_argument("--client-id", required=True)
parser.add_argument("--client-secret", required=True)
parser.add_argument("--redirect-uri", required=True)
args = parser.parse_args()

django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402

call_command("migrate", interactive=False, verbosity=0)
Application.objects.update_or_create(
    client_id=args.client_id,
    defaults={
        "name": "BCTRL Console",
        "client_secret": args.client_secret,
        "client_type": Application.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
        "redirect_uris": args.redirect_uri,
        "algorithm": Application.RS256_ALGORITHM,
        "skip_authorization": True,  # no consent page: the console is the organisation's own
    },
)
listener = socket.socket(fileno=args.fd)
uvicorn.Server(uvicorn.Config(get_asgi_application(), log_level="warning", lifespan="off")).run(
    sockets=[listener]
)
