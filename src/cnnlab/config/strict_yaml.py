"""YAML read strictly: params.yaml, references.yaml and every `--set` value.

PyYAML's safe loader made strict: no anchors or aliases, bounded size, nesting and numbers, text
keys only, no key twice. A problem is one CnnlabError naming the file (or option) and the line.
"""

from pathlib import Path

import yaml

from cnnlab.errors import CnnlabError
from cnnlab.text import cut, shown

MAX_FILE_BYTES = 100_000  # the real catalog is ~7 KB; bigger files take seconds to read and check
MAX_DEPTH = 20  # the real catalog nests 4 deep; Python's recursion gives out at ~1000
MAX_NUMBER_CHARS = 32  # Python refuses to read ints of more than 4300 digits, with a traceback


class Refused(yaml.MarkedYAMLError):
    """Valid YAML that StrictLoader refuses; `problem` says why and what to do."""

    def __init__(self, mark, problem: str):
        super().__init__(problem=problem, problem_mark=mark)


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: no anchors or aliases (a few KB of nested aliases expand to
    gigabytes), bounded nesting (deeper, PyYAML's recursion fails), text keys only, no key twice,
    numbers of bounded length."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise Refused(event.start_mark, "anchors and aliases (& and *) are not allowed; "
                                            "write the value out")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels; allowed: {MAX_DEPTH}")
        node = super().compose_node(parent, index)
        self.depth -= 1
        return node

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            mark = key_node.start_mark
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise Refused(mark, "merge keys (<<) are not allowed; write the keys out")
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise Refused(mark, f"the key {shown(key)} is not text; quote it")
            if key in first_line:
                lines = f"lines {first_line[key]} and {mark.line + 1}"
                raise Refused(mark, f"{cut(key)}: duplicate key ({lines}); keep one of them")
            first_line[key] = mark.line + 1
        return super().construct_mapping(node, deep)

    def construct_number(self, node):
        if len(node.value) > MAX_NUMBER_CHARS:
            raise Refused(node.start_mark, f"a number of {len(node.value)} characters; "
                                           f"allowed: at most {MAX_NUMBER_CHARS}")
        if node.tag.endswith(":int"):
            return self.construct_yaml_int(node)
        return self.construct_yaml_float(node)


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_number)
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_number)


def read_yaml(text: str, source: str):
    """Parse YAML text with StrictLoader; a problem raises one CnnlabError naming `source` and the line."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except Refused as err:
        raise CnnlabError(f"{source}: {_where(err.problem_mark)}: {err.problem}") from None
    except yaml.MarkedYAMLError as err:  # a syntax error
        problem = " ".join(f"{err.problem} ({err.context})".split()) if err.context else err.problem
        raise CnnlabError(f"{source}: {_where(err.problem_mark)}: not valid YAML: {problem}; "
                          "fix the syntax there") from None
    except yaml.reader.ReaderError as err:  # a control character, or a byte that is not UTF-8 in --set
        line = text[:err.position].count("\n") + 1
        raise CnnlabError(f"{source}: line {line}: the character U+{err.character:04X} is not allowed "
                          "in YAML; remove it") from None


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def read_text(path: Path) -> str:
    """The file as UTF-8 text, refusing files larger than MAX_FILE_BYTES (before reading them whole)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise CnnlabError(f"{path}: cannot read it: {err.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CnnlabError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; the catalog is a few KB: "
                          "check that this is the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise CnnlabError(f"{path}: line {line}: byte 0x{data[err.start]:02x} is not UTF-8; "
                          "save the file as UTF-8") from None
