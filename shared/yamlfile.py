"""Data files people edit: YAML parsed together with the line of every entry, so an error can name the line.

`load_model(path, Model)` reads a file and validates it against its schema (the usual way in);
`load_located(text)` returns the plain data and a `Locator`; `locator.line(("categories", "heating", "terms", 3))`
is the 1-based line of that entry (or of the nearest enclosing one that exists). `describe_errors` turns a
pydantic ValidationError into "file:line: path: message" lines.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Path_ = Sequence[str | int]
Model = TypeVar("Model", bound=BaseModel)
# libyaml's parser where PyYAML was built with it: a data file of thousands of entries (the gazetteer) loads in a
# fraction of the pure-Python parser's time.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DataFileError(ValueError):
    """A data file is not valid; each message line names the file, the line and the entry."""


@dataclass(frozen=True)
class Locator:
    source: str
    root: yaml.Node | None

    def line(self, path: Path_) -> int:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            # An entry of a mapping is named at its key ("heating:"), an item of a list where it starts.
            anchor, node = found
            line = anchor.start_mark.line + 1
        return line

    def where(self, path: Path_) -> str:
        return f"{self.source}:{self.line(path)}"

    def error(self, path: Path_, message: str) -> str:
        dotted = ".".join(str(part) for part in path)
        return f"{self.where(path)}: {dotted + ': ' if dotted else ''}{message}"


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return key, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None


def load_located(text: str, source: str) -> tuple[Any, Locator]:
    """Raises DataFileError naming the line for text that is not YAML."""
    try:
        # One parse: the node tree gives both the lines and the data.
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise DataFileError(f"{where}: not valid YAML: {getattr(error, 'problem', None) or error}") from error
    duplicates = list(_duplicate_keys(root))
    if duplicates:
        raise DataFileError(
            "\n".join(
                f"{source}:{key.start_mark.line + 1}: duplicate key {key.value!r} "
                f"(first at line {first.start_mark.line + 1}); the later one would silently replace the first"
                for key, first in duplicates
            )
        )
    return data, Locator(source, root)


def _duplicate_keys(node: yaml.Node | None) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """(repeated key, its first occurrence) in every mapping of the document."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    yield key, seen[key.value]
                seen.setdefault(key.value, key)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


def load_model(path: Path, model: type[Model], error: type[ValueError] = DataFileError) -> Model:
    """A data file read and validated against its schema. Raises `error` (a DataFileError by default) naming the file
    and the line: unreadable, not YAML, a duplicate key (which a plain YAML load would let silently win), or an entry
    the schema refuses (one line per problem)."""
    return load_model_located(path, model, error)[0]


def load_model_located(
    path: Path, model: type[Model], error: type[ValueError] = DataFileError
) -> tuple[Model, Locator]:
    """As `load_model`, with the file's locator, for checks beyond the schema that name a line too."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as failure:
        raise error(f"{path}: cannot be read: {failure.strerror or failure}") from failure
    try:
        data, locator = load_located(text, str(path))
    except DataFileError as failure:
        raise error(str(failure)) from failure
    try:
        return model.model_validate(data), locator
    except ValidationError as failure:
        raise error("\n".join(describe_errors(failure, locator))) from failure


def describe_errors(error: ValidationError, locator: Locator) -> list[str]:
    return [locator.error(_data_path(issue["loc"]), issue["msg"]) for issue in error.errors()]


def _data_path(loc: Iterable[Any]) -> list[str | int]:
    # pydantic adds the validator's name for some checks ("function-after[...]"); it is no key of the file.
    return [part for part in loc if not (isinstance(part, str) and "[" in part)]
