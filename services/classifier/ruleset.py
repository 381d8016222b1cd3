"""The rule file (rules.yaml) as analysts write it, its validation, and its compiled, fast-to-match form. Pure.

A term is one or more words; each word is matched by its lemmas ("батарея" matches "батареї", "батарей",
"батареями"), or, ending in "*", by the start of the word or of one of its lemmas ("batare*", "опален*"), or,
ending in "!", only as written ("газ!"). A term of several words is a phrase: its words in order in one clause,
with at most `phrase_gap` other words between them ("немає гарячої води" matches "немає зараз гарячої води").
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.contracts.classifier import Urgency
from shared.language import MIN_SIMILAR_LENGTH, Analysed, Lexicon, Word, similar
from shared.taxonomy import Taxonomy
from shared.textmatch import normalize
from shared.yamlfile import DataFileError, Locator, describe_errors, load_located

UNCLASSIFIED = "unclassified"


class RulesError(DataFileError):
    """The rule file is not valid; each line of the message names the file, the line and the entry."""


# ---- the file as written -------------------------------------------------------------------------


def _has_letters(value: str) -> bool:
    return any(character.isalpha() for character in value)


class RuleSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    weight: float = Field(1.0, gt=0, le=100)
    terms: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    # The rule does not fire when any of these is in the text ("гаряча лінія" is no hot water).
    exclude: list[str] = Field(default_factory=list)
    # Urgency markers only: the categories the marker applies to (empty: all).
    only: list[str] = Field(default_factory=list)

    @field_validator("terms", "exclude")
    @classmethod
    def _terms_have_letters(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _has_letters(str(value)):
                raise ValueError(f"term {value!r} has no letters")
        return [str(value) for value in values]

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"regular expression {value!r} does not compile: {error}") from None
        return values

    @model_validator(mode="after")
    def _not_empty(self) -> "RuleSpec":
        if not self.terms and not self.regex:
            raise ValueError("empty rule: it needs at least one term or regex")
        return self


class CategorySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    urgency: Urgency = "normal"
    # The category's urgency is always its default (information requests and thanks are `low`).
    fixed_urgency: bool = False
    # Its rules count in full even in a clause that says something is done (thanks are about what was done).
    counts_when_resolved: bool = False
    exclude: list[str] = Field(default_factory=list)
    rules: dict[str, RuleSpec] = Field(min_length=1)

    @field_validator("exclude")
    @classmethod
    def _terms_have_letters(cls, values: list[str]) -> list[str]:
        return RuleSpec._terms_have_letters(values)


class LanguageSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    # Words that negate what follows within `negation_window` words ("не", "нема", "no", ...).
    negations: list[str] = Field(min_length=1)
    negation_window: int = Field(2, ge=0, le=5)
    # Statements that the problem of their clause is solved ("світло вже дали").
    resolved: list[str] = Field(min_length=1)
    # Words after which a subject is only a landmark ("біля зупинки"): such matches count like resolved ones.
    landmarks: list[str] = Field(default_factory=list)
    # Phrases whose own words name where something is, not what it is about ("на зупинці", "на весь під'їзд"):
    # they count like landmarks.
    places: list[str] = Field(default_factory=list)
    # Words that start a new clause ("а", "але", "but").
    clause_words: list[str] = Field(default_factory=list)
    # Words that make a solved statement one side of an alternation ("то є, то нема"): it is not solved.
    alternation: list[str] = Field(default_factory=list)
    phrase_gap: int = Field(1, ge=0, le=5)
    # Colloquial and surzhyk words read as the word the rules know ("нима: нема", "када: коли"): one word each.
    spellings: dict[str, str] = Field(default_factory=dict)
    # English words that also look like Ukrainian or Russian in Latin letters ("like" -> "ліке" -> "ліки"): read
    # as English only.
    english: list[str] = Field(default_factory=list)

    @field_validator("negations", "resolved", "clause_words", "landmarks", "places", "english", "alternation")
    @classmethod
    def _terms_have_letters(cls, values: list[str]) -> list[str]:
        return RuleSpec._terms_have_letters(values)

    @field_validator("spellings")
    @classmethod
    def _one_word_each(cls, values: dict[str, str]) -> dict[str, str]:
        spellings: dict[str, str] = {}
        for written, read in values.items():
            for word in (str(written), str(read)):
                if not _has_letters(word) or len(normalize(word).split()) != 1:
                    raise ValueError(f"spelling {written!r}: {read!r}: each side must be one word with letters")
            spellings[normalize(str(written))] = normalize(str(read))
        return spellings


class RuleFileSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = Field(min_length=1)
    # The winner needs at least this score, and its share of the two best scores must reach min_confidence.
    min_score: float = Field(2.0, gt=0)
    min_confidence: float = Field(0.6, ge=0, le=1)
    # The score at which a lone category is fully confident; below it confidence scales down.
    confident_score: float = Field(4.0, gt=0)
    # A rule whose words are all in a "resolved" clause counts this much of its weight.
    resolved_factor: float = Field(0.2, ge=0, le=1)
    # Added to the score of the category named first in the text (outside solved clauses and landmarks).
    lead_bonus: float = Field(0.0, ge=0)
    # Added to the score of the category the resident chose (an Open311 service_code, the API's category): a hint
    # that tips a close call, not a decision (below min_score on its own, so a bare choice still goes to a person).
    requested_category_weight: float = Field(0.0, ge=0)
    language: LanguageSpec
    urgency: dict[Urgency, dict[str, RuleSpec]]
    categories: dict[str, CategorySpec] = Field(min_length=1)


# ---- compiled ------------------------------------------------------------------------------------


TermKind = Literal["category", "urgency", "exclude", "resolved", "landmark", "place"]


@dataclass(frozen=True, slots=True)
class WordPattern:
    kind: Literal["lemma", "prefix", "exact"]
    values: frozenset[str]  # lemma keys, one prefix, or one exact word
    starts: frozenset[str] = frozenset()  # the first three letters of each value (lemma kind)

    def matches(self, word: Word) -> bool:
        if self.kind == "lemma":
            if not self.values.isdisjoint(word.keys):
                return True
            forms = word.unknown_forms
            return bool(forms) and any(similar(form, lemma) for form in forms for lemma in self.values)
        if self.kind == "exact":
            return word.text in self.values
        (prefix,) = self.values
        return any(key.startswith(prefix) for key in word.keys)


@dataclass(frozen=True, slots=True)
class Term:
    rule: str  # "heating.radiators", "urgency.critical.gas_smell"; for exclusions the rule or category excluded
    text: str  # as written in the file
    words: tuple[WordPattern, ...]
    kind: TermKind = "category"


@dataclass(frozen=True, slots=True)
class Hit:
    term: Term
    first: int  # word indexes
    last: int
    clause: int
    matched: str


@dataclass(frozen=True)
class Rule:
    id: str
    category: str  # or the urgency level for markers
    weight: float
    regex: tuple[re.Pattern[str], ...]
    only: frozenset[str]


@dataclass
class TermMatcher:
    """Terms indexed by what their first word can be, so each word of a text costs one look-up once it has
    been seen (the candidates for a word are remembered)."""

    terms: list[Term]
    phrase_gap: int = 1
    _by_key: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    _by_exact: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    _by_prefix: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    # Lemma terms by the first three letters of their lemmas, for words no dictionary knows (typos).
    _by_start: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    # Per word as written: its candidate terms in file order, each with its id when it is a phrase (0 otherwise).
    _candidates: dict[str, tuple[tuple[Term, int], ...]] = field(default_factory=dict)
    _seconds: dict[str, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Candidates in the file's order, whatever order a word's keys come in: the same text gives the same
        # explanation in every process (string hashing, and so set order, differs between processes).
        self._order = {id(term): position for position, term in enumerate(self.terms)}
        for term in self.terms:
            first = term.words[0]
            index = {"lemma": self._by_key, "exact": self._by_exact, "prefix": self._by_prefix}[first.kind]
            for value in first.values:
                index[value].append(term)
                if first.kind == "lemma" and len(value) >= MIN_SIMILAR_LENGTH:
                    self._by_start[value[:3]].append(term)
        self._prefix_lengths = sorted({len(prefix) for prefix in self._by_prefix})
        # Phrases by what their second word can be: a text keeps only the phrases whose second word it has, found by
        # one look-up per key of the text instead of a set comparison per phrase and occurrence.
        self._by_second_key: dict[str, list[int]] = defaultdict(list)
        self._by_second_start: dict[str, list[int]] = defaultdict(list)
        self._unpruned: frozenset[int] = frozenset(
            id(term) for term in self.terms if len(term.words) > 1 and term.words[1].kind != "lemma"
        )
        for term in self.terms:
            if len(term.words) > 1 and term.words[1].kind == "lemma":
                for value in term.words[1].values:
                    self._by_second_key[value].append(id(term))
                for start in term.words[1].starts:
                    self._by_second_start[start].append(id(term))

    def _candidates_for(self, word: Word) -> tuple[tuple[Term, int], ...]:
        cached = self._candidates.get(word.text)
        if cached is not None:
            return cached
        found: dict[int, Term] = {}
        for term in self._by_exact.get(word.text, ()):
            found[id(term)] = term
        for key in word.keys:
            for term in self._by_key.get(key, ()):
                found[id(term)] = term
            for length in self._prefix_lengths:
                if length > len(key):
                    break
                for term in self._by_prefix.get(key[:length], ()):
                    found[id(term)] = term
        for form in word.unknown_forms:
            for term in self._by_start.get(form[:3], ()):
                if term.words[0].matches(word):
                    found[id(term)] = term
        candidates = tuple(
            (term, id(term) if len(term.words) > 1 else 0)
            for term in sorted(found.values(), key=lambda term: self._order[id(term)])
        )
        if len(self._candidates) < 500_000:
            self._candidates[word.text] = candidates
        return candidates

    def _seconds_for(self, word: Word) -> frozenset[int]:
        """The phrases whose second word this word may be (by its keys or, unknown, by its first letters)."""
        cached = self._seconds.get(word.text)
        if cached is not None:
            return cached
        ids = [term for key in word.keys for term in self._by_second_key.get(key, ())]
        ids += [term for form in word.unknown_forms for term in self._by_second_start.get(form[:3], ())]
        seconds = frozenset(ids)
        if len(self._seconds) < 500_000:
            self._seconds[word.text] = seconds
        return seconds

    def find(self, analysed: Analysed) -> list[Hit]:
        words = analysed.words
        hits: list[Hit] = []
        # A phrase whose second word (by lemma) is nowhere in the text cannot match: most phrases end here.
        possible = set(self._unpruned)
        for word in words:
            possible.update(self._seconds_for(word))
        for index, word in enumerate(words):
            for term, phrase in self._candidates_for(word):
                if phrase and phrase not in possible:
                    continue
                last = self._match_rest(term, words, index)
                if last is not None:
                    matched = " ".join(words[position].text for position in range(index, last + 1))
                    hits.append(Hit(term, index, last, word.clause, matched))
        return hits

    def _match_rest(self, term: Term, words: tuple[Word, ...], index: int) -> int | None:
        position, clause = index, words[index].clause
        for pattern in term.words[1:]:
            for candidate in range(position + 1, min(position + 2 + self.phrase_gap, len(words))):
                if words[candidate].clause != clause:
                    return None
                if pattern.matches(words[candidate]):
                    position = candidate
                    break
            else:
                return None
        return position


@dataclass(frozen=True)
class RuleSet:
    version: str
    min_score: float
    min_confidence: float
    confident_score: float
    resolved_factor: float
    lead_bonus: float
    requested_category_weight: float
    lexicon: Lexicon
    negations: frozenset[str]
    negation_window: int
    clause_words: frozenset[str]
    alternation: frozenset[str]
    spellings: dict[str, str]
    english: frozenset[str]
    rules: dict[str, Rule]  # by rule id, categories' rules and urgency markers
    # Every term of the file in one index (rules, markers, exclusions, resolved statements, landmarks), so a
    # text is scanned once; each hit's term says its kind.
    terms: TermMatcher
    default_urgency: dict[str, Urgency]
    fixed_urgency: frozenset[str]
    counts_when_resolved: frozenset[str]
    regex_rules: tuple[Rule, ...]


def _compile_word(raw: str, lexicon: Lexicon) -> WordPattern:
    if raw.endswith("*") and len(raw) > 1:
        return WordPattern("prefix", frozenset({raw[:-1]}))
    if raw.endswith("!") and len(raw) > 1:
        return WordPattern("exact", frozenset({raw[:-1]}))
    lemmas = lexicon.lemmas_of_term(raw)
    return WordPattern("lemma", lemmas, frozenset(lemma[:3] for lemma in lemmas))


def compile_term(rule: str, raw: str, lexicon: Lexicon, kind: TermKind = "category") -> Term:
    pieces = [piece.strip("'’-") for piece in normalize(raw).split()]
    if not _has_letters(raw):
        raise ValueError(f"term {raw!r} has no letters")
    # A number in a phrase is a word of it ("лінія 1551"), matched as written.
    words = tuple(
        WordPattern("exact", frozenset({piece.rstrip("!")}))
        if piece.rstrip("!").isdigit()
        else _compile_word(piece, lexicon)
        for piece in pieces
        if _has_letters(piece) or piece.rstrip("!").isdigit()
    )
    return Term(rule, raw, words, kind)


def parse_rules(text: str, taxonomy: Taxonomy, source: str, lexicon: Lexicon | None = None) -> RuleSet:
    """Validates and compiles a rule file's text; raises RulesError naming the line of every problem."""
    try:
        raw, locator = load_located(text, source)
    except DataFileError as error:
        raise RulesError(str(error)) from error
    if not isinstance(raw, dict):
        raise RulesError(f"{source}:1: the rule file must be a mapping with version, language, urgency, categories")
    try:
        spec = RuleFileSpec.model_validate(raw)
    except ValidationError as error:
        raise RulesError("\n".join(describe_errors(error, locator))) from error
    problems = _reference_problems(spec, taxonomy, locator)
    if problems:
        raise RulesError("\n".join(problems))
    return compile_rules(spec, lexicon or Lexicon())


def _reference_problems(spec: RuleFileSpec, taxonomy: Taxonomy, locator: Locator) -> list[str]:
    known = set(taxonomy.categories) | set(taxonomy.aliases)
    problems = [
        locator.error(("categories", code), f"unknown category code {code!r} (not in the taxonomy)")
        for code in spec.categories
        if code not in known
    ]
    if UNCLASSIFIED in spec.categories:
        problems.append(locator.error(("categories", UNCLASSIFIED), "unclassified is what no rule decides"))
    for level, markers in spec.urgency.items():
        for name, marker in markers.items():
            problems += [
                locator.error(("urgency", level, name, "only", index), f"unknown category code {code!r}")
                for index, code in enumerate(marker.only)
                if code not in spec.categories
            ]
    return problems


def compile_rules(spec: RuleFileSpec, lexicon: Lexicon) -> RuleSet:
    rules: dict[str, Rule] = {}
    terms: list[Term] = []

    def add_terms(rule: str, raw_terms: list[str], kind: TermKind) -> None:
        terms.extend(compile_term(rule, term, lexicon, kind) for term in dict.fromkeys(raw_terms))

    def add(rule_id: str, label: str, rule_spec: RuleSpec, kind: TermKind) -> None:
        rules[rule_id] = Rule(
            id=rule_id,
            category=label,
            weight=rule_spec.weight,
            regex=tuple(re.compile(pattern) for pattern in rule_spec.regex),
            only=frozenset(rule_spec.only),
        )
        add_terms(rule_id, rule_spec.terms, kind)
        add_terms(rule_id, rule_spec.exclude, "exclude")

    for code, category in spec.categories.items():
        for name, rule_spec in category.rules.items():
            add(f"{code}.{name}", code, rule_spec, "category")
        add_terms(code, category.exclude, "exclude")
    for level, markers in spec.urgency.items():
        for name, rule_spec in markers.items():
            add(f"urgency.{level}.{name}", level, rule_spec, "urgency")
    add_terms("language.resolved", spec.language.resolved, "resolved")
    add_terms("language.landmarks", spec.language.landmarks, "landmark")
    add_terms("language.places", spec.language.places, "place")
    return RuleSet(
        version=spec.version,
        min_score=spec.min_score,
        min_confidence=spec.min_confidence,
        confident_score=spec.confident_score,
        resolved_factor=spec.resolved_factor,
        lead_bonus=spec.lead_bonus,
        requested_category_weight=spec.requested_category_weight,
        lexicon=lexicon,
        negations=frozenset(spec.language.negations),
        negation_window=spec.language.negation_window,
        clause_words=frozenset(spec.language.clause_words),
        alternation=frozenset(normalize(word) for word in spec.language.alternation),
        spellings=dict(spec.language.spellings),
        english=frozenset(normalize(word) for word in spec.language.english),
        rules=rules,
        terms=TermMatcher(terms, spec.language.phrase_gap),
        default_urgency={code: category.urgency for code, category in spec.categories.items()},
        fixed_urgency=frozenset(code for code, category in spec.categories.items() if category.fixed_urgency),
        counts_when_resolved=frozenset(code for code, c in spec.categories.items() if c.counts_when_resolved),
        regex_rules=tuple(rule for rule in rules.values() if rule.regex),
    )
