"""Fixtures of the unit layer: the project's own configuration files, loaded once, and no servers."""

import pytest

from services.classifier.rulebook import read_rules
from services.classifier.ruleset import RuleSet
from services.classifier.settings import DEFAULT_RULES
from services.dispatcher.domain import Routing, load_routing
from services.dispatcher.settings import DEFAULT_ROUTING
from services.notifier.domain import Templates, load_templates
from services.notifier.settings import DEFAULT_TEMPLATES
from shared.channels import ChannelList, load_channels
from shared.settings import DEFAULT_TAXONOMY
from shared.taxonomy import Taxonomy, load_taxonomy
from tests.unit.fakes import ParkedRecords


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_TAXONOMY)


@pytest.fixture(scope="session")
def rules(taxonomy: Taxonomy) -> RuleSet:
    return read_rules(DEFAULT_RULES, taxonomy)


@pytest.fixture(scope="session")
def routing(taxonomy: Taxonomy) -> Routing:
    return load_routing(DEFAULT_ROUTING, taxonomy)


@pytest.fixture(scope="session")
def templates() -> Templates:
    return load_templates(DEFAULT_TEMPLATES)


@pytest.fixture(scope="session")
def channels() -> ChannelList:
    return load_channels()


@pytest.fixture
def parked() -> ParkedRecords:
    return ParkedRecords()
