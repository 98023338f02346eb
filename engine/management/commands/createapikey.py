from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from engine.api.auth import create_api_key
from engine.models import ApiKey


class Command(BaseCommand):
    help = "Create an engine API key. Prints the key alone on the last line; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", required=True, choices=ApiKey.SCOPES)

    def handle(self, *args: object, name: str, scope: str, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        api_key, key = create_api_key(name, scope)
        self.stderr.write(
            f"Created API key '{api_key.name}' ({api_key.scope}), id {api_key.id}. Store it now:"
        )
        self.stdout.write(key)
