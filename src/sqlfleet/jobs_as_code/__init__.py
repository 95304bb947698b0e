"""Jobs as code: definitions kept in YAML files, applied to the job database and exported.

`read` loads the files (with the file and line of each thing), `make_plan` says what applying
them would change, `apply` does it in one transaction, `export` writes files that `apply`
turns back into the same definitions, and `json_schema` describes the files for editors.
"""

from sqlfleet.jobs_as_code.document import DefinitionFileError, json_schema, read
from sqlfleet.jobs_as_code.export import export
from sqlfleet.jobs_as_code.plan import Change, Plan, apply, make_plan

__all__ = [
    "Change",
    "DefinitionFileError",
    "Plan",
    "apply",
    "export",
    "json_schema",
    "make_plan",
    "read",
]
