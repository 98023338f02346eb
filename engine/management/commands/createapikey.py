from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from engine.api.auth import create_api_key
from engine.models import ApiKey


class Command(BaseCommand):
    help = "Create an engine API key. Prints the key alone on the last line; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", required=True, choices=ApiKey.SCOPES)
        parser.add_argument(
            "--team",
            action="store_true",
            help="A key a team shares (a console's): the per-key limits do not apply, the engine's own do.",
        )

    def handle(self, *args: object, name: str, scope: str, team: bool, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        api_key, key = create_api_key(name, scope, team)
        kind = "a team key" if team else "per-key limits apply"
        self.stderr.write(
            f"Created API key '{api_key.name}' ({api_key.scope}, {kind}), id {api_key.id}. Store it now:"
        )
        self.stdout.write(key)
