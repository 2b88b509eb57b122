"""Durability for `drydock serve`: nothing a client was told is lost when the process dies.

`journal` is the SQLite (WAL) file everything is written to before it takes effect; `recorder` writes a
Step Functions backend's calls, history events and task tokens to it; `replay` rebuilds the backends
after a crash by running every execution again against its own recorded history (the way Temporal
replays a workflow), checking each event it makes against the journal and calling out only for what
had not happened yet; `cloud_state` saves and restores the moto state the harness uses.
"""
