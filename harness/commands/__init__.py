"""drydock subcommands, one module each (see harness/cli.py for the protocol)."""
