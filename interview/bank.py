"""The item bank: YAML data files under interview/bank/, validated by a schema on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from interview.errors import BankError

BANK_DIR = Path(__file__).resolve().parent / "bank"
TOPICS_FILE = "topics.yaml"

Area = Literal["failure_modes", "fine_tuning"]
Level = Literal["easy", "medium", "hard"]
# The author's level is the prior of an item's difficulty until it is calibrated (INTERVIEW.md).
LEVEL_DIFFICULTY: dict[str, float] = {"easy": -1.0, "medium": 0.0, "hard": 1.2}
SLUG = r"^[a-z0-9][a-z0-9_-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    """One topic: an ability is estimated per topic."""

    id: Annotated[str, Field(pattern=SLUG)]
    area: Area
    title: str
    description: str = ""


class IRT(_Strict):
    """2PL parameters: P(correct | theta) = 1 / (1 + exp(-a (theta - b)))."""

    a: Annotated[float, Field(gt=0, le=4)] = 1.0
    b: Annotated[float, Field(ge=-4, le=4)] = 0.0
    calibrated: bool = False  # False: a prior from the author's level


class Concept(_Strict):
    """An idea an expert states; found by embedding similarity or a keyword/paraphrase hit."""

    name: str
    paraphrases: Annotated[list[str], Field(min_length=1)]
    # Lower-case words or short phrases (regular expressions allowed) whose presence counts.
    keywords: list[str] = []
    weight: Annotated[float, Field(gt=0)] = 1.0
    # Claims that state the opposite of this concept (the concept turned around); an answer
    # claiming one of them is contradicting the concept and loses points like a misconception.
    contradictions: list[str] = []


class Misconception(_Strict):
    """A statement that reveals a shallow model of the mechanism; costs `penalty` when found."""

    name: str
    paraphrases: Annotated[list[str], Field(min_length=1)]
    keywords: list[str] = []
    penalty: Annotated[float, Field(gt=0, le=1)] = 0.25


class Rubric(_Strict):
    concepts: Annotated[list[Concept], Field(min_length=3, max_length=6)]
    misconceptions: list[Misconception] = []
    model_answer: str
    # Answers that must score below the pass mark (checked by verify-bank).
    wrong_answers: Annotated[list[str], Field(min_length=2)]


class Check(_Strict):
    """One verdict of a code task, computed on the trusted side from data only.

    `same`: these outputs must equal the reference's outputs on the same inputs (same shape,
    within `atol` + `rtol` * |reference|; NaN only where the reference has NaN). `expect`: a
    Python expression over `got` (the candidate's outputs), `ref` (the reference's),
    `inputs`, `np`, `math` and the task's `helpers`, which must be true. `message` is what
    the candidate reads when it fails.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    message: str
    same: list[str] = []
    expect: str | None = None
    atol: Annotated[float, Field(ge=0)] = 1e-5
    rtol: Annotated[float, Field(ge=0)] = 1e-5

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        if not self.same and not self.expect:
            raise ValueError(f"check {self.name!r} needs `same` outputs or an `expect` expression")
        return self


class CodeTask(_Strict):
    """A runnable exercise: the candidate edits `starter`; trusted checks on outputs decide.

    The candidate's code is saved as `solution.py` beside `driver` (`driver.py`) and the
    `context` files (e.g. an unfamiliar model's source, shown to the candidate). In the
    sandbox, `driver.run(inputs)` calls the candidate's code on one case's inputs (a dict of
    NumPy arrays, with `seed`, an int64 scalar, among them) and returns a dict of arrays,
    tensors or numbers; the driver is not secret and may be subverted, which gains nothing.
    `cases` (trusted, NumPy only) defines `inputs(rng)`, returning that case's arrays from a
    generator seeded afresh for every grading. The reference runs the same driver on the
    same inputs in its own sandbox; `checks` compare on the trusted side.
    """

    starter: str
    reference: str
    driver: str
    checks: Annotated[list[Check], Field(min_length=1)]
    cases: str = ""
    helpers: str = ""  # trusted NumPy functions that `expect` expressions may call
    context: dict[str, str] = {}  # file name -> source shown to the candidate
    time_limit_s: Annotated[float, Field(gt=0, le=20)] = 10.0


class Item(_Strict):
    """One question. Reference answers, rubrics and code checks never leave the server."""

    id: Annotated[str, Field(pattern=SLUG)]
    topic: str
    kind: Literal["choice", "free_text", "code"]
    level: Level
    prompt: str  # markdown: a concrete symptom to explain, diagnose or fix
    irt: IRT | None = None
    tags: list[str] = []
    # The score that counts as a pass for free text; code passes only with every check passed.
    pass_mark: Annotated[float, Field(gt=0, le=1)] = 0.6
    # choice
    options: list[str] = []
    answer: int | None = None
    explanation: str = ""
    # free_text
    rubric: Rubric | None = None
    # code
    code: CodeTask | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> Item:
        if self.kind == "choice":
            if len(self.options) < 2 or self.answer is None:
                raise ValueError("a choice item needs at least 2 options and an answer index")
            if not 0 <= self.answer < len(self.options):
                raise ValueError(f"answer {self.answer} is not an index into the options")
        if self.kind == "free_text" and self.rubric is None:
            raise ValueError("a free_text item needs a rubric")
        if self.kind == "code" and self.code is None:
            raise ValueError("a code item needs a code task")
        return self

    @property
    def parameters(self) -> IRT:
        """Its IRT parameters: stored ones, or the prior from the level."""
        return self.irt or IRT(a=1.0, b=LEVEL_DIFFICULTY[self.level])


class _File(_Strict):
    items: list[Item]


@dataclass(frozen=True)
class Bank:
    """Every topic and item, validated; items keep the order of their files."""

    topics: dict[str, Topic]
    items: dict[str, Item]

    def by_topic(self, topic: str) -> list[Item]:
        return [item for item in self.items.values() if item.topic == topic]

    def item(self, item_id: str) -> Item:
        try:
            return self.items[item_id]
        except KeyError:
            raise BankError(f"no item {item_id!r} in the bank") from None


def _read_yaml(path: Path) -> object:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise BankError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None


def _explain(path: Path, error: ValidationError) -> BankError:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return BankError(f"{path}: {where}: {first['msg']} ({error.error_count()} problem(s) in all)")


def load_bank(folder: str | Path = BANK_DIR) -> Bank:
    """Read topics.yaml and every other *.yaml below `folder`; raise BankError naming the
    file and field of the first problem."""
    folder = Path(folder)
    topics_path = folder / TOPICS_FILE
    if not topics_path.is_file():
        raise BankError(f"no {TOPICS_FILE} in {folder}")
    raw_topics = _read_yaml(topics_path) or {}
    try:
        topics = {t.id: t for t in (Topic(**entry) for entry in raw_topics.get("topics", []))}
    except (ValidationError, TypeError, AttributeError) as error:
        if isinstance(error, ValidationError):
            raise _explain(topics_path, error) from None
        raise BankError(f"{topics_path}: expected a 'topics:' list of mappings") from None
    items: dict[str, Item] = {}
    for path in sorted(folder.rglob("*.yaml")):
        if path == topics_path:
            continue
        raw = _read_yaml(path)
        try:
            parsed = _File(**(raw or {"items": []}))
        except ValidationError as error:
            raise _explain(path, error) from None
        except TypeError:
            raise BankError(f"{path}: expected a mapping with an 'items:' list") from None
        for item in parsed.items:
            if item.id in items:
                raise BankError(f"{path}: item id {item.id!r} is used twice")
            if item.topic not in topics:
                raise BankError(
                    f"{path}: item {item.id!r} has unknown topic {item.topic!r}; "
                    f"known: {', '.join(topics)}"
                )
            items[item.id] = item
    return Bank(topics=topics, items=items)
