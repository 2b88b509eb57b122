"""Amazon States Language: load, validate and execute state machines, with no AWS dependency."""
