"""The words of report.md in each of its languages: messages/<language>.yaml, each entry a sentence
or a phrase whose {named} fields the code fills in.

The code decides what is said (which verdict, which fact holds, which caveat applies), once, the
same way in every language; a catalog only says how it is said. Numbers are no words: pct, pp and
the others (intervals.py) write them alike in every language, so both reports show the same values.
English and Chinese have the same entries with the same fields (tests/test_report_languages.py).

Names the code declares in English next to what they name (a figure's caption on its drawing
function, a verdict as reproduction.csv writes it, a reference kind) are translated by name in the
other language's catalog (`Messages.get`), so that they stay declared once.
"""

from functools import cache
from pathlib import Path

from cnnlab.config.strict_yaml import read_text, read_yaml

MESSAGES = Path(__file__).with_name("messages")


class Messages:
    """One language's catalog: `words("conclusion.keep", base=...)` is its sentence filled in."""

    def __init__(self, language: str, entries: dict):
        self.language = language
        self.entries = entries

    def entry(self, key: str):
        """The entry at a dotted key ("conclusion.keep"), as the catalog writes it."""
        entry = self.entries
        for part in key.split("."):
            entry = entry[part]
        return entry

    def __call__(self, key: str, /, **fields) -> str:  # a field may be called `key` too
        return self.entry(key).format(**fields)

    def count(self, key: str, number: int) -> str:
        """"2 seeds": an entry of `counts`, singular and plural where the language has both."""
        entry = self.entry(f"counts.{key}")
        if isinstance(entry, dict):
            entry = entry["one"] if number == 1 else entry["other"]
        return entry.format(n=number)

    def get(self, section: str, name: str, english: str) -> str:
        """`name`'s words in the mapping `section`; `english` where this catalog has none (English
        itself keeps such names where the code declares them)."""
        return self.entries.get(section, {}).get(name, english)


@cache
def messages(language: str) -> Messages:
    path = MESSAGES / f"{language}.yaml"
    return Messages(language, read_yaml(read_text(path), source=str(path)))


ENGLISH = messages("en")  # report.html's language, and report.md's
