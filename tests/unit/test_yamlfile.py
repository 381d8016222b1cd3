"""shared/yamlfile.py: data files people edit, with the line of each entry for error messages."""

import pytest
from pydantic import BaseModel, ValidationError

from shared.channels import ChannelList, load_channels
from shared.yamlfile import DataFileError, describe_errors, load_located, load_model

TEXT = """\
# a comment
version: "1"
categories:
  heating:
    terms: [батарея,
            радіатор]
  gas:
    terms:
      - газ
      - 7
"""


def test_each_entry_is_named_at_its_line():
    data, locator = load_located(TEXT, "rules.yaml")

    assert data["categories"]["gas"]["terms"] == ["газ", 7]
    assert locator.line(("version",)) == 2
    assert locator.line(("categories", "heating")) == 4
    assert locator.line(("categories", "heating", "terms", 1)) == 6
    assert locator.line(("categories", "gas", "terms", 1)) == 10
    # A path that does not exist is named at its nearest existing parent.
    assert locator.line(("categories", "gas", "weight")) == 7
    assert locator.error(("categories", "gas"), "bad") == "rules.yaml:7: categories.gas: bad"


def test_validation_errors_name_file_line_and_path():
    class Category(BaseModel):
        terms: list[str]

    class File(BaseModel):
        version: str
        categories: dict[str, Category]

    data, locator = load_located(TEXT, "rules.yaml")
    with pytest.raises(ValidationError) as caught:
        File.model_validate(data)

    assert describe_errors(caught.value, locator) == [
        "rules.yaml:10: categories.gas.terms.1: Input should be a valid string"
    ]


def test_text_that_is_not_yaml_is_refused_with_its_line():
    with pytest.raises(DataFileError, match=r"^rules.yaml:3: not valid YAML"):
        load_located("a: 1\nb: [1, 2\nc: 3\n", "rules.yaml")


def test_a_key_given_twice_is_refused_naming_both_lines():
    with pytest.raises(DataFileError) as caught:
        load_located("categories:\n  heating:\n    a: 1\n  gas:\n    a: 2\n  heating:\n    b: 3\n", "rules.yaml")

    assert str(caught.value) == (
        "rules.yaml:6: duplicate key 'heating' (first at line 2); the later one would silently replace the first"
    )


@pytest.mark.parametrize(
    ("loader", "text", "problem"),
    [
        (load_channels, "channels:\n  web: {name: Web}\n  web: {name: Phone}\n", ":3: duplicate key"),
        (lambda path: load_model(path, ChannelList), "channels:\n  web: {title: Web}\n", ":2: channels.web"),
    ],
    ids=["duplicate-key", "schema"],
)
def test_a_data_file_loaded_through_its_schema_names_file_and_line(tmp_path, loader, text, problem):
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(DataFileError) as caught:
        loader(path)

    assert str(caught.value).startswith(f"{path}{problem}")
