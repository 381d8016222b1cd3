"""The reference taxonomy (categories, urgency levels, districts, departments), validated on load.

Its codes are the contract that tests and evaluations use. The project keeps its own copy in
shared/data/taxonomy.yaml as the default configuration; CITYLINE_TAXONOMY_PATH points elsewhere.
"""

import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.yamlfile import load_model

DISTRICT_SCOPED = {"district_housing": "housing_{district}", "district_admin": "rda_{district}"}
_DURATION = re.compile(r"^(\d+)([hd])$")


class TaxonomyError(ValueError):
    """The taxonomy file is not valid; the message names the file and the entry."""


class UrgencyLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    due: str
    meaning: str = ""

    @field_validator("due")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"due must look like 24h or 15d, not {value!r}")
        return value

    @property
    def due_delta(self) -> timedelta:
        match = _DURATION.match(self.due)
        assert match
        amount, unit = int(match[1]), match[2]
        return timedelta(hours=amount) if unit == "h" else timedelta(days=amount)


class Category(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    group: str
    name: str
    department: str
    scope: Literal["city", "district"] = "city"


class Taxonomy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    urgency: dict[str, UrgencyLevel]
    districts: dict[str, str]
    departments: dict[str, str]
    categories: dict[str, Category]
    aliases: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> "Taxonomy":
        for code, category in self.categories.items():
            if category.department not in self.departments:
                raise ValueError(f"category {code}: unknown department {category.department!r}")
            scoped = category.department in DISTRICT_SCOPED
            if scoped != (category.scope == "district"):
                raise ValueError(f"category {code}: scope {category.scope} does not fit {category.department}")
        for old, new in self.aliases.items():
            if new not in self.categories:
                raise ValueError(f"alias {old}: unknown category {new!r}")
        for required in ("unclassified",):
            if required not in self.categories:
                raise ValueError(f"category {required!r} is required")
        if "contact_center" not in self.departments:
            raise ValueError("department 'contact_center' is required")
        return self

    def category(self, code: str) -> Category:
        return self.categories[self.aliases.get(code, code)]

    def department_codes(self) -> list[str]:
        """Every department that can receive tasks, district units expanded for each district."""
        codes = [code for code in self.departments if code not in DISTRICT_SCOPED]
        for pattern in DISTRICT_SCOPED.values():
            codes += [pattern.format(district=district) for district in self.districts]
        return codes

    def department_for(self, category_code: str, district: str | None) -> str | None:
        """The responsible department, or None when a district-scoped category lacks its district."""
        category = self.category(category_code)
        pattern = DISTRICT_SCOPED.get(category.department)
        if pattern is None:
            return category.department
        if district is None or district not in self.districts:
            return None
        return pattern.format(district=district)

    def department_name(self, code: str) -> str:
        if code in self.departments:
            return self.departments[code]
        for template_code, pattern in DISTRICT_SCOPED.items():
            prefix = pattern.split("{", 1)[0]
            district = code.removeprefix(prefix)
            if code.startswith(prefix) and district in self.districts:
                template = self.departments[template_code].split("  (code:", 1)[0]
                return template.format(district=self.districts[district])
        raise KeyError(code)

    def due_after(self, urgency: str) -> timedelta:
        return self.urgency[urgency].due_delta


def load_taxonomy(path: Path) -> Taxonomy:
    return load_model(path, Taxonomy, TaxonomyError)


@cache
def cached_taxonomy(path: Path) -> Taxonomy:
    return load_taxonomy(path)
