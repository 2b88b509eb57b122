"""JSON pointers (RFC 6901): the one way drydock names a place inside a definition.

Diagnostics, source maps and runtime errors all address nodes with these strings, so they
must agree on escaping: `~` becomes `~0` and `/` becomes `~1` (a state may be named "a/b").
"""
from __future__ import annotations


def pointer(*parts: str | int) -> str:
    """Build a pointer from unescaped reference tokens.

    Args:
        *parts: object keys or array indexes, outermost first.

    Returns:
        The pointer text; `pointer()` is `""`, the whole document.
    """
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def parts(text: str) -> list[str]:
    """Split a pointer into its unescaped reference tokens (the inverse of `pointer`).

    Raises:
        ValueError: the text is neither empty nor starts with "/".
    """
    if text == "":
        return []
    if not text.startswith("/"):
        raise ValueError(f"a JSON pointer must be empty or start with '/': {text!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/")]
