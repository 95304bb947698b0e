"""Per-target variables: a database member's fixed values and a shard map's extra columns.

A target may carry variables of its own besides the built-in ones (`script.VARIABLES`): a
tenant's plan, region or id. They come from `--var name=value` on a database member, or from
the columns of a shard map's query other than `database`, `server` and `schema`. Scripts use
them as any variable: `$(plan)`, `$(plan:literal)`, `$(plan:identifier)`.

The rules, the same at every door:

- a name is a letter or `_` followed by letters, digits or `_` (ASCII), at most
  `limits.MAX_VARIABLE_NAME` characters; it may not be the name of a built-in variable nor
  `database`, `server` or `schema` (which say where a target is), in any case;
- a value is text of at most `limits.MAX_VARIABLE_VALUE` characters that the job database can
  store (no NUL). Numbers, dates and the like from a catalog become text as kept results show
  them; a NULL stays "no value", and a script that uses it fails on that target before
  anything is sent;
- a target carries at most `limits.MAX_VARIABLES` variables.

Values are not secrets, but a catalog's column may hold a connection string: wherever a value
is shown (documents, pages, messages), a URL's password is masked; scripts get it as it is.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Sequence

from sqlfleet import limits
from sqlfleet.errors import InvalidValue
from sqlfleet.masking import mask_url
from sqlfleet.model import TargetVariables
from sqlfleet.script import VARIABLES

# The columns of a shard map that say where a target is; every other column is a variable.
LOCATION_COLUMNS = ("database", "server", "schema")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_NAME = re.compile(NAME_PATTERN)
_BUILT_IN = {name.lower(): name for name in VARIABLES}


def check_name(name: object) -> str:
    """`name` if a target's variable may have it; else InvalidValue saying why not."""
    if not isinstance(name, str):
        raise InvalidValue(f"a variable name must be text, not {limits.shown(name)}")
    if not name:
        raise InvalidValue("a variable name is empty")
    if len(name) > limits.MAX_VARIABLE_NAME:
        raise InvalidValue(
            f"the variable name {limits.shown(name)} is longer than "
            f"{limits.MAX_VARIABLE_NAME} characters"
        )
    if not _NAME.match(name):
        raise InvalidValue(
            f"{limits.shown(name)} is not a valid variable name: use a letter or _ followed "
            "by letters, digits or _"
        )
    built_in = _BUILT_IN.get(name.lower())
    if built_in is not None:
        raise InvalidValue(
            f"the variable name {name!r} is taken by the built-in variable $({built_in}): "
            "choose another name"
        )
    if name.lower() in LOCATION_COLUMNS:
        raise InvalidValue(
            f"the variable name {name!r} is taken: database, server and schema say where a "
            "target is"
        )
    return name


def check_value(name: str, value: object, *, null: bool = False) -> str | None:
    """`value` if variable `name` may hold it (None only with `null`); else InvalidValue."""
    if value is None and null:
        return None
    if not isinstance(value, str):
        raise InvalidValue(
            f"the value of variable {name!r} must be text, not {limits.shown(value)}"
        )
    limits.check_storable(f"value of variable {name!r}", value)
    if len(value) > limits.MAX_VARIABLE_VALUE:
        raise InvalidValue(
            f"the value of variable {name!r} is longer than "
            f"{limits.MAX_VARIABLE_VALUE:,} characters ({len(value):,})"
        )
    return value


def check_variables(
    pairs: Iterable[tuple[object, object]], *, null: bool = False
) -> TargetVariables:
    """Names and values checked (see the module's rules), in the order given."""
    checked: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidValue(f"a variable is a name and a value, not {limits.shown(pair)}")
        name, value = pair
        name = check_name(name)
        if name in seen:
            raise InvalidValue(f"the variable {name!r} is given twice")
        seen.add(name)
        checked.append((name, check_value(name, value, null=null)))
        if len(checked) > limits.MAX_VARIABLES:
            raise InvalidValue(f"a target has at most {limits.MAX_VARIABLES} variables")
    return tuple(checked)


def parse_assignments(items: Sequence[str]) -> list[tuple[str, str]]:
    """`NAME=VALUE` texts (as `--var` and the web form take them) as pairs, unchecked.

    The name is everything before the first `=` and the value everything after it, spaces
    included (a name with spaces is then refused); the value may be empty.
    """
    pairs = []
    for item in items:
        name, equals, value = item.partition("=")
        if not equals:
            raise InvalidValue(
                f"a variable is written NAME=VALUE, not {limits.shown(item)}: e.g. plan=gold"
            )
        pairs.append((name, value))
    return pairs


def as_text(value: object) -> str | None:
    """A catalog column's value as a variable's text: None for NULL, text as results show it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "\\x" + raw.hex()  # as PostgreSQL prints bytea
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)  # numbers, decimals, UUIDs, ...


def to_json(variables: TargetVariables) -> str | None:
    """Variables as the job database keeps them: a JSON object, or NULL for none."""
    if not variables:
        return None
    return json.dumps(dict(variables), ensure_ascii=False)


def from_json(text: str | None) -> TargetVariables:
    """Variables as `to_json` wrote them."""
    if not text:
        return ()
    return tuple(json.loads(text).items())


def shown(value: str | None) -> str | None:
    """A value as it is shown (never as it is used): a URL's password or a `password=`
    setting masked, since a catalog's column may hold a connection string."""
    if value is None or ("@" not in value and "pass" not in value.lower()):
        return value
    return mask_url(value)


def shown_map(variables: TargetVariables) -> dict[str, str | None]:
    """The variables by name, as documents and pages show them (see `shown`)."""
    return {name: shown(value) for name, value in variables}


def describe(variables: TargetVariables) -> str:
    """`plan="gold" region=null`: each value shown quoted so that spaces and quotes show."""
    return " ".join(
        f"{name}={json.dumps(shown(value), ensure_ascii=False)}" for name, value in variables
    )
