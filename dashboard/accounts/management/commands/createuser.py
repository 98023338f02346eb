"""`manage.py createuser --username U --role viewer|operator|admin [--password P]`.

Idempotent, so `manage.py up` and deploy scripts can run it on every start: an existing user
gets the role (and the password, when one is given); a new user without --password gets a
strong generated one, printed once.
"""

import secrets

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from dashboard.accounts import users
from dashboard.accounts.roles import ROLES


class Command(BaseCommand):
    help = "Create a console user with a role, or update an existing user's role and password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="initial password; without it a new user gets a generated one")

    def handle(
        self, *args: object, username: str, role: str, password: str | None, **options: object
    ) -> None:
        user = User.objects.filter(username=username).first()
        generated = password is None and user is None
        if generated:
            password = secrets.token_urlsafe(18)
        if password is not None:
            self._check_password(password, user or User(username=username))
        try:
            with transaction.atomic():
                if user is None:
                    user = users.create_user(username, role, password or "")
                    action = "Created"
                else:
                    users.set_role(user, role)
                    if password is not None:
                        users.set_password(user, password)
                    action = "Updated"
        except users.LastAdminError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{action} user {username} with role {role}.")
        if generated:
            self.stdout.write(f"Password: {password}")

    def _check_password(self, password: str, user: User) -> None:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("Password refused: " + " ".join(error.messages)) from error
