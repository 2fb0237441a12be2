#!/usr/bin/env python
"""Django's command-line utility for OsteoLens."""

import os
import sys
from pathlib import Path

# platform/ is not a package (it would shadow the standard library's `platform`):
# its apps import as top-level names.
sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
