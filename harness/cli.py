"""The `drydock` command: a thin dispatcher; each subcommand lives in `harness/commands/<name>.py`.

A command module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
Exit codes: 0 success, 1 findings or a failed execution, 2 unusable input.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from harness import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drydock", description="Run AWS Step Functions and SageMaker pipelines locally.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"harness.commands.{info.name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
