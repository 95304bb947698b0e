"""The definitions file: YAML that describes credentials, target groups and jobs.

A file (or every `*.yaml`/`*.yml` file of a folder) holds three lists: `credentials` (a name,
a user name, and where the secret comes from: an environment variable or a file, never the
secret itself), `target_groups` with their members, and `jobs` with their schedule, steps
and webhooks (`notify`: each URL, a secret too, from an environment variable).
Step settings are the ones every other door takes (`sqlfleet.limits.STEP_SETTINGS`). Errors
name the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from sqlfleet import limits
from sqlfleet.errors import InvalidValue

# A file bigger than this is not a hand-kept definition: refuse it before reading it.
MAX_FILE_BYTES = 20_000_000
# libyaml's parser when PyYAML has it (it does in its wheels): many times faster.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DefinitionFileError(InvalidValue):
    """A definitions file is not valid."""


class _Model(BaseModel):
    # An unknown field is a typo, not something to ignore.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecretSource(_Model):
    """Where a credential's secret comes from: an environment variable or a file."""

    env: str | None = Field(None, description="Name of an environment variable holding it")
    file: str | None = Field(None, description="A file holding it (relative to this file)")

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError("give the secret's source as `env: VARIABLE` or `file: PATH`")
        return self


class CredentialDoc(_Model):
    """A credential: the secret itself never appears in the file."""

    name: str
    username: str
    secret: SecretSource


class MemberDoc(_Model):
    """A target group member; its kind follows from the fields given."""

    server: str = Field(description="postgresql://host:port, mysql://host:port, sqlite:///dir")
    database: str | None = None
    database_pattern: str | None = None
    schema_pattern: str | None = None
    shard_map_query: str | None = None
    refresh_credential: str | None = None
    exclude: bool = False
    variables: dict[str, str] | None = Field(
        None,
        alias="vars",
        description="A database member's own variables, name: value ($(name) in scripts)",
    )

    @field_validator("variables", mode="before")
    @classmethod
    def _text_values(cls, value: Any) -> Any:
        # A whole number is what it says; any other YAML value that is not text (1.10, yes,
        # a date, null) would come back changed, so it must be quoted to say what it is.
        if not isinstance(value, dict):
            return value
        written = {}
        for name, item in value.items():
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise ValueError(
                    f"the value of {name!r} is {item!r}, not text: write it in quotes "
                    f"(e.g. {name}: '{item}') so that it is kept exactly as written"
                )
            written[str(name) if isinstance(name, int) else name] = item
        return written


class TargetGroupDoc(_Model):
    """A target group and all its members."""

    name: str
    members: list[MemberDoc] = Field(default_factory=list)


class ScheduleDoc(_Model):
    """`once`, `every N minutes|hours|days|weeks|months` or a cron expression, in a zone."""

    spec: str
    timezone: str = "UTC"
    start_time: datetime | None = None
    end_time: datetime | None = None


class OutputDoc(_Model):
    """Where a step's first result set goes."""

    server: str
    database: str
    table: str
    credential: str
    schema_name: str | None = Field(None, alias="schema")


def _setting_type(setting: limits.StepSetting) -> Any:
    if setting.limit is None:
        return bool
    if isinstance(setting.limit, limits.Number):
        return int if setting.limit.whole else float
    return str


_REQUIRED = ("target_group", "credential")
StepDoc: type[_Model] = create_model(  # type: ignore[call-overload]
    "StepDoc",
    __base__=_Model,
    __doc__="A step: its script (inline or from a file) and every setting `add-step` takes.",
    name=(str, ...),
    command=(str | None, Field(None, description="The script")),
    command_file=(str | None, Field(None, description="A file with the script")),
    output=(OutputDoc | None, None),
    **{
        s.field: (
            (str, Field(description=s.help_text))
            if s.field in _REQUIRED
            else (_setting_type(s) | None, Field(None, description=s.help_text))
        )
        for s in limits.STEP_SETTINGS
        if s.field != "command"
    },
)


class NotifyDoc(_Model):
    """A webhook told when an execution ends: its URL is a secret, so it comes from an
    environment variable, as does the secret that signs each notification, if any."""

    url_env: str = Field(description="Name of an environment variable holding the URL")
    on: Literal["failure", "always"] = Field(
        "failure", description="failure: only when an execution did not succeed; always"
    )
    secret_env: str | None = Field(
        None, description="Name of an environment variable holding the signing secret"
    )

    @model_validator(mode="before")
    @classmethod
    def _on_as_written(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on` key as the boolean true.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data


class JobDoc(_Model):
    """A job, its schedule, its steps in order, and its webhooks."""

    name: str
    description: str = ""
    enabled: bool = False
    schedule: ScheduleDoc | None = None
    steps: list[StepDoc] = Field(default_factory=list)  # type: ignore[valid-type]
    notify: list[NotifyDoc] = Field(default_factory=list)


class FileDoc(_Model):
    """One definitions file."""

    credentials: list[CredentialDoc] = Field(default_factory=list)
    target_groups: list[TargetGroupDoc] = Field(default_factory=list)
    jobs: list[JobDoc] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a definitions file, for editors to validate against."""
    schema = FileDoc.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "sqlfleet definitions"
    return schema


# -- reading files, keeping where each thing was written ---------------------------------------


@dataclass(frozen=True, slots=True)
class Location:
    """Where something is written: a file and a line."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def error(self, where: str, message: str) -> DefinitionFileError:
        """An error about the thing at `where` (e.g. `jobs[0].steps[1]`) written here."""
        return DefinitionFileError(f"{self}: {where}: {message}")


@dataclass(frozen=True, slots=True)
class Located:
    """A credential, group or job as written, with where, and how to say where it is."""

    item: Any
    location: Location
    path: str  # e.g. `jobs[2]`
    node: yaml.Node | None
    root: Path  # the folder applied: files the definitions name must be inside it

    def file(self, name: str) -> Path:
        """A file the definitions name (a script, a secret), relative to the YAML file.

        It must lie inside the folder being applied, links followed: a definitions file
        cannot make `apply` read `/etc/shadow` into a job.
        """
        path = (self.location.file.parent / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidValue(
                f"{name!r} is outside the folder being applied ({self.root}): "
                "name files inside it, relative to the YAML file"
            )
        return path

    def at(self, *keys: str | int) -> Location:
        """The location of a part of it (a step, a field)."""
        return Location(self.location.file, _line(self.node, keys, self.location.line))

    def where(self, *keys: str | int) -> str:
        """`jobs[2].steps[0].command` for the part at `keys`."""
        return _dotted((self.path, *keys))


@dataclass
class Definitions:
    """Everything the files describe, each thing with where it is written."""

    credentials: list[Located] = field(default_factory=list)
    target_groups: list[Located] = field(default_factory=list)
    jobs: list[Located] = field(default_factory=list)


def read(path: str | Path) -> Definitions:
    """The definitions in a file, or in every YAML file of a folder (and its subfolders)."""
    root = Path(path)
    folder = root if root.is_dir() else root.parent
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise DefinitionFileError(f"{root}: the folder holds no .yaml or .yml file")
    elif root.exists():
        files = [root]
    else:
        raise DefinitionFileError(f"{root}: no such file or folder")
    definitions = Definitions()
    seen: dict[tuple[str, str], Location] = {}
    for file in files:
        for kind, items in _read_file(file, folder).items():
            for located in items:
                key = (kind, located.item.name)
                if key in seen:
                    raise located.location.error(
                        located.path,
                        f"{kind.replace('_', ' ')[:-1]} {located.item.name!r} is defined twice "
                        f"(also at {seen[key]})",
                    )
                seen[key] = located.location
                getattr(definitions, kind).append(located)
    return definitions


def _read_file(file: Path, root: Path) -> dict[str, list[Located]]:
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise DefinitionFileError(
                f"{file}: is larger than {MAX_FILE_BYTES // 1_000_000} MB: split it into "
                "several files of a folder"
            )
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DefinitionFileError(f"{file}: is not UTF-8 text") from None
    except OSError as exc:
        raise DefinitionFileError(f"{file}: cannot be read: {exc.strerror}") from None
    if "\x00" in text:
        raise DefinitionFileError(f"{file}: holds a NUL character")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_duplicate_keys(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "not valid YAML"
        raise DefinitionFileError(f"{file}:{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise DefinitionFileError(f"{file}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DefinitionFileError(
            f"{file}:1: the file must be a mapping of credentials, target_groups and jobs"
        )
    try:
        doc = FileDoc.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        keys = tuple(k for k in error["loc"] if isinstance(k, str | int))
        line = _line(node, keys, 1)
        message = str(error["msg"]).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DefinitionFileError(
            f"{file}:{line}: {_dotted(keys) or 'file'}: {message}{more}"
        ) from None
    return {
        kind: [
            Located(
                item,
                Location(file, _line(node, (kind, i), 1)),
                f"{kind}[{i}]",
                _child(node, (kind, i)),
                root,
            )
            for i, item in enumerate(getattr(doc, kind))
        ]
        for kind in ("credentials", "target_groups", "jobs")
    }


def _refuse_duplicate_keys(root: yaml.Node, file: Path) -> None:
    """A key written twice in one mapping is a mistake: YAML loaders keep the last silently."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:  # an alias: its node was looked at already
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[object] = set()
            for key, value in node.value:
                name = getattr(key, "value", None)
                if isinstance(name, str) and name in keys:
                    line = key.start_mark.line + 1
                    raise DefinitionFileError(f"{file}:{line}: the key {name!r} is written twice")
                keys.add(name)
                pending.append(value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)


def _child(node: yaml.Node | None, keys: tuple[str | int, ...]) -> yaml.Node | None:
    """The node at `keys` below `node`, or the deepest one found on the way."""
    for key in keys:
        found = None
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            found = node.value[key] if 0 <= key < len(node.value) else None
        if found is None:
            return node
        node = found
    return node


def _line(node: yaml.Node | None, keys: tuple[str | int, ...], default: int) -> int:
    found = _child(node, keys)
    return found.start_mark.line + 1 if found is not None else default


def _dotted(keys: tuple[str | int, ...]) -> str:
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text
