"""How cnnlab's messages show values and counts."""

SHOWN_CHARS = 60  # how much of a value an error message repeats


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def count(number: int, noun: str) -> str:
    """The number and the noun, plural unless the number is 1: "1 epoch", "2 epochs"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def shown(value) -> str:
    """A value as an error message repeats it: its repr, cut short."""
    return cut(repr(value))
