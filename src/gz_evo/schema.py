"""Galaxy Zoo decision-tree schemas: questions, answers, dependencies, and their merge into GZ-Evo.

The schema is the single source of truth for answer order: the model head's outputs, the loss's
question slices, the catalog's vote columns and the prediction table's columns all come from it.

Each Galaxy Zoo campaign is data: one YAML file (``src/gz_evo/campaigns/<name>.yaml``, or a user's
own file in a directory passed as ``campaign_dirs``) listing its questions without the campaign
suffix. Loading appends the suffix, so ``bar`` of campaign ``dr5`` becomes ``bar-dr5`` with answer
columns ``bar-dr5_strong``, ``bar-dr5_weak``, ``bar-dr5_no``.

Python API::

    from gz_evo.schema import load_schema
    schema = load_schema("gz_evo_v0_1")          # a named merge
    schema = load_schema(["gz2", "dr5"])         # any list of campaigns
    schema.questions, schema.answer_columns, schema.question_slices, schema.dependencies
    Schema.from_json(schema.to_json()) == schema
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

PACKAGED_CAMPAIGNS = "gz_evo.campaigns"
MERGES_FILE = "_merges.yaml"


class SchemaError(ValueError):
    """A schema or campaign definition is invalid; the message says where and why."""


@dataclass(frozen=True)
class Question:
    """One decision-tree question of one campaign.

    ``name`` is the full, suffixed name (``bar-dr5``); ``depends_on`` is the answer column
    (``disk-edge-on-dr5_no``) a volunteer must have chosen to be asked this question, or None.
    """

    name: str
    answers: tuple[str, ...]
    depends_on: str | None = None
    campaign: str = ""
    suffix: str = ""

    @property
    def answer_columns(self) -> list[str]:
        return [f"{self.name}_{answer}" for answer in self.answers]

    @property
    def base_name(self) -> str:
        """The question as its campaign's YAML names it: ``bar-dr5`` -> ``bar``."""
        return self.name.removesuffix(self.suffix) if self.suffix else self.name

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "answers": list(self.answers),
            "depends_on": self.depends_on,
            "campaign": self.campaign,
            "suffix": self.suffix,
        }

    def same_definition(self, other: Question) -> bool:
        """True when both define the same answers (in order) and dependency."""
        return self.answers == other.answers and self.depends_on == other.depends_on


@dataclass(frozen=True)
class Schema:
    """An ordered set of questions; the order fixes every answer column's index."""

    questions: tuple[Question, ...]
    name: str = "custom"
    _by_name: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Question] = {}
        for question in self.questions:
            if question.name in by_name:
                raise SchemaError(f"schema {self.name!r}: question {question.name!r} appears twice")
            if len(question.answers) < 2:
                raise SchemaError(
                    f"schema {self.name!r}: question {question.name!r} needs at least two answers"
                )
            if len(set(question.answers)) != len(question.answers):
                raise SchemaError(
                    f"schema {self.name!r}: question {question.name!r} repeats an answer"
                )
            by_name[question.name] = question
        object.__setattr__(self, "_by_name", by_name)
        self._check_dependencies()

    def _check_dependencies(self) -> None:
        columns = set(self.answer_columns)
        for question in self.questions:
            if question.depends_on is not None and question.depends_on not in columns:
                raise SchemaError(
                    f"schema {self.name!r}: question {question.name!r} depends on "
                    f"{question.depends_on!r}, which is not an answer of this schema"
                )

    # --- the views that models, losses and catalogs use ---------------------------------------
    @property
    def question_names(self) -> list[str]:
        return [question.name for question in self.questions]

    @property
    def answer_columns(self) -> list[str]:
        return [column for question in self.questions for column in question.answer_columns]

    @property
    def n_questions(self) -> int:
        return len(self.questions)

    @property
    def n_answers(self) -> int:
        return sum(len(question.answers) for question in self.questions)

    @property
    def question_slices(self) -> dict[str, slice]:
        """Each question's contiguous slice of ``answer_columns`` (and of the model's outputs)."""
        slices, start = {}, 0
        for question in self.questions:
            slices[question.name] = slice(start, start + len(question.answers))
            start += len(question.answers)
        return slices

    @property
    def answer_question_index(self) -> np.ndarray:
        """For each answer column, the index of its question: what vectorised losses scatter by."""
        return np.repeat(np.arange(self.n_questions), [len(q.answers) for q in self.questions])

    @property
    def dependencies(self) -> dict[str, str | None]:
        return {question.name: question.depends_on for question in self.questions}

    @property
    def campaigns(self) -> list[str]:
        return list(dict.fromkeys(question.campaign for question in self.questions))

    def question(self, name: str) -> Question:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(f"schema {self.name!r} has no question {name!r}") from None

    def campaign_questions(self, campaign: str) -> list[Question]:
        return [question for question in self.questions if question.campaign == campaign]

    def campaign_answer_columns(self, campaign: str) -> list[str]:
        return [col for q in self.campaign_questions(campaign) for col in q.answer_columns]

    def ancestors(self, question_name: str) -> list[str]:
        """Answer columns that lead to this question, from the root down."""
        chain: list[str] = []
        dependency = self.question(question_name).depends_on
        while dependency is not None:
            chain.append(dependency)
            parent = dependency.rsplit("_", 1)[0]
            dependency = self.question(parent).depends_on
            if len(chain) > self.n_questions:
                raise SchemaError(f"schema {self.name!r}: dependency cycle at {question_name!r}")
        return chain[::-1]

    # --- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "n_questions": self.n_questions,
            "n_answers": self.n_answers,
            "campaigns": self.campaigns,
            "questions": [question.to_dict() for question in self.questions],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        questions = tuple(
            Question(
                name=q["name"],
                answers=tuple(q["answers"]),
                depends_on=q.get("depends_on"),
                campaign=q.get("campaign", ""),
                suffix=q.get("suffix", ""),
            )
            for q in data["questions"]
        )
        return cls(questions=questions, name=data.get("name", "custom"))

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_dict(json.loads(text))


def merge_schemas(schemas: Sequence[Schema], name: str = "merged") -> Schema:
    """Union of schemas in the given order; a question defined twice must be defined identically.

    Suffixes keep campaigns apart, so the only legitimate repeat is the very same question (the
    same campaign listed twice); a different definition under one name is an error.
    """
    merged: dict[str, Question] = {}
    for schema in schemas:
        for question in schema.questions:
            known = merged.get(question.name)
            if known is None:
                merged[question.name] = question
            elif not known.same_definition(question):
                raise SchemaError(
                    f"question {question.name!r} is defined differently by campaign "
                    f"{known.campaign!r} ({list(known.answers)}, depends on {known.depends_on!r}) "
                    f"and campaign {question.campaign!r} ({list(question.answers)}, "
                    f"depends on {question.depends_on!r})"
                )
    return Schema(questions=tuple(merged.values()), name=name)


# --- campaigns as YAML ------------------------------------------------------------------------
def _suffixed(name: str, suffix: str) -> str:
    return f"{name}{suffix}"


def _suffixed_answer_column(column: str, suffix: str) -> str:
    question, _, answer = column.rpartition("_")
    if not question:
        raise SchemaError(f"dependency {column!r} is not of the form '<question>_<answer>'")
    return f"{question}{suffix}_{answer}"


def _check_answer_names(answers: Iterable, where: str) -> tuple[str, ...]:
    checked = []
    for answer in answers:
        if isinstance(answer, bool):
            raise SchemaError(
                f"{where}: answer {answer!r} was read as a boolean; YAML turns yes/no into "
                f'true/false, so quote it ("yes", "no")'
            )
        text = _check_text(answer, "an answer", where)
        if "_" in text:
            raise SchemaError(f"{where}: answer {text!r} contains '_', which separates columns")
        checked.append(text)
    return tuple(checked)


#: keys of a campaign file, and of each of its questions (anything else is a typo)
CAMPAIGN_KEYS = ("name", "title", "suffix", "questions")
QUESTION_KEYS = ("name", "answers", "depends_on")


def _check_keys(data: dict, known: Sequence[str], where: str, what: str) -> None:
    unknown = [key for key in data if key not in known]
    if unknown:
        raise SchemaError(f"{where}: unknown key {unknown[0]!r}; {what} has {', '.join(known)}")


def _check_text(value: object, what: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        raise SchemaError(f"{where}: {what} must be a non-empty text, got {value!r}")
    return str(value)


def campaign_from_dict(data: dict, source: str = "<dict>") -> Schema:
    """Build one campaign's schema from its YAML content, appending the suffix everywhere.

    Every key is checked: an unknown one (a typo such as ``depend_on``) is an error naming it.
    """
    if not isinstance(data, dict):
        raise SchemaError(
            f"{source}: a campaign file is a mapping (name, title, suffix, questions), "
            f"not {type(data).__name__}"
        )
    _check_keys(data, CAMPAIGN_KEYS, source, "a campaign")
    for key in ("name", "questions"):
        if key not in data:
            raise SchemaError(f"{source}: campaign definition has no {key!r}")
    campaign = _check_text(data["name"], "'name'", source)
    suffix = data.get("suffix") or ""
    suffix = suffix and _check_text(suffix, "'suffix'", source)
    if "_" in suffix:
        raise SchemaError(f"{source}: suffix {suffix!r} contains '_', which separates columns")
    if not isinstance(data["questions"], list) or not data["questions"]:
        raise SchemaError(f"{source}: 'questions' must be a non-empty list of questions")
    questions = []
    for position, raw in enumerate(data["questions"]):
        if not isinstance(raw, dict):
            raise SchemaError(
                f"{source}: question {position} must be a mapping "
                f"({{name: ..., answers: [...], depends_on: ...}}), got {raw!r}"
            )
        where = f"{source}: question {position} ({raw.get('name', '?')!r})"
        _check_keys(raw, QUESTION_KEYS, where, "a question")
        if "name" not in raw or "answers" not in raw:
            raise SchemaError(f"{where}: needs 'name' and 'answers'")
        name = _check_text(raw["name"], "the question's name", where)
        if "_" in name:
            raise SchemaError(f"{where}: question names use '-', never '_'")
        if not isinstance(raw["answers"], list):
            raise SchemaError(f"{where}: 'answers' must be a list, got {raw['answers']!r}")
        depends_on = raw.get("depends_on")
        if depends_on is not None:
            depends_on = _check_text(depends_on, "'depends_on'", where)
        questions.append(
            Question(
                name=_suffixed(name, suffix),
                answers=_check_answer_names(raw["answers"], where),
                depends_on=None
                if depends_on is None
                else _suffixed_answer_column(depends_on, suffix),
                campaign=campaign,
                suffix=suffix,
            )
        )
    try:
        return Schema(questions=tuple(questions), name=campaign)
    except SchemaError as error:
        raise SchemaError(f"{source}: {error}") from None


def _campaign_files(
    campaign_dirs: Sequence[str | Path],
) -> dict[str, Path | resources.abc.Traversable]:
    """Campaign name -> file; a user's directory may add campaigns but not shadow packaged ones."""
    files: dict[str, Path | resources.abc.Traversable] = {}
    for entry in resources.files(PACKAGED_CAMPAIGNS).iterdir():
        if entry.name.endswith(".yaml") and not entry.name.startswith("_"):
            files[entry.name.removesuffix(".yaml")] = entry
    for directory_name in campaign_dirs:
        directory = Path(directory_name)
        if not directory.is_dir():
            raise SchemaError(f"campaign directory {str(directory)!r} does not exist")
        own: dict[str, Path] = {}
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            name = path.stem
            if name in own:
                raise SchemaError(
                    f"{path}: campaign {name!r} is also defined by {own[name]}; keep one file"
                )
            if name in files:
                raise SchemaError(
                    f"{path}: campaign {name!r} is already defined by gz_evo; rename your file"
                )
            files[name] = own[name] = path
    return files


def known_campaigns(campaign_dirs: Sequence[str | Path] = ()) -> list[str]:
    return sorted(_campaign_files(campaign_dirs))


def named_merges() -> dict[str, list[str]]:
    text = resources.files(PACKAGED_CAMPAIGNS).joinpath(MERGES_FILE).read_text()
    return {name: list(campaigns) for name, campaigns in yaml.safe_load(text).items()}


def _campaign_data(name: str, campaign_dirs: Sequence[str | Path]) -> tuple[dict, str]:
    """A campaign's YAML content and the file it came from."""
    files = _campaign_files(campaign_dirs)
    if name not in files:
        raise SchemaError(
            f"unknown campaign {name!r}; known campaigns: {', '.join(sorted(files))}; "
            f"named merges: {', '.join(named_merges())}"
        )
    entry = files[name]
    try:
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise SchemaError(
            f"{entry}: not UTF-8 text (byte {error.start}): save the campaign file as UTF-8"
        ) from None
    except yaml.YAMLError as error:
        raise SchemaError(f"{entry}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise SchemaError(
            f"{entry}: a campaign file is a mapping (name, title, suffix, questions), "
            f"not {type(data).__name__}"
        )
    if data.get("name") != name:
        raise SchemaError(f"{entry}: file name says {name!r} but 'name' says {data.get('name')!r}")
    return data, str(entry)


def load_campaign(name: str, campaign_dirs: Sequence[str | Path] = ()) -> Schema:
    data, source = _campaign_data(name, campaign_dirs)
    return campaign_from_dict(data, source=source)


def campaign_suffix(name: str, campaign_dirs: Sequence[str | Path] = ()) -> str:
    """The suffix campaign ``name`` appends to its question names (``-dr5``; ``""`` if none)."""
    data, _ = _campaign_data(name, campaign_dirs)
    return str(data.get("suffix") or "")


def load_schema(
    spec: str | Sequence[str], campaign_dirs: Sequence[str | Path] = (), name: str | None = None
) -> Schema:
    """A named merge (``"gz_evo_v0_1"``), one campaign (``"dr5"``) or a list of campaigns."""
    merges = named_merges()
    if isinstance(spec, str):
        if spec in merges:
            return load_schema(merges[spec], campaign_dirs, name=spec)
        if name is None:
            return load_campaign(spec, campaign_dirs)
        spec = [spec]
    campaigns = [load_campaign(campaign, campaign_dirs) for campaign in spec]
    return merge_schemas(campaigns, name=name or "+".join(spec))
