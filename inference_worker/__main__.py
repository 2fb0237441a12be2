"""Command line: ``python -m inference_worker {phantoms,train,evaluate,analyze,worker} ...``.

Each sub-command lives in its own module and registers itself through
``add_parser(subparsers)``; this file only dispatches, so importing it stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> module that defines add_parser(subparsers) and run(args) -> int
COMMANDS = {
    "phantoms": "inference_worker.phantoms.cli",
    "train": "inference_worker.commands.train",
    "evaluate": "inference_worker.commands.evaluate",
    "analyze": "inference_worker.commands.analyze",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m inference_worker")
    subparsers = parser.add_subparsers(dest="command", required=True)
    # Only import the module of the command asked for: torch is slow to import.
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, module_name in COMMANDS.items():
        if wanted in (None, name):
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith(module_name):
                    subparsers.add_parser(name, help="(not available in this build)")
                    continue
                raise
            module.add_parser(subparsers)
        else:
            subparsers.add_parser(name)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
