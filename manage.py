#!/usr/bin/env python
"""Django's command-line utility for both services.

The console (`dashboard`) and the engine (`engine`) are two Django projects with separate
databases. Engine commands run under the engine's settings; everything else under the console's.
"""

import os
import sys

ENGINE_COMMANDS = {"runengine", "createapikey", "engine"}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "engine":
        # `manage.py engine <command>` runs any Django command (migrate, shell...) for the engine.
        del sys.argv[1]
        os.environ["DJANGO_SETTINGS_MODULE"] = "engine.settings"
    elif command in ENGINE_COMMANDS:
        os.environ["DJANGO_SETTINGS_MODULE"] = "engine.settings"
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
