"""sqlfleet's errors: one root, a subtree per kind of thing a user can get wrong.

Each class's docstring is its default message. Driver and database errors are translated into
these once, at the edge where they happen; only the CLI maps them to exit codes and only the
REST API maps them to HTTP status codes.
"""

from __future__ import annotations


class SqlfleetError(Exception):
    """sqlfleet failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


# -- definitions: what a user typed -------------------------------------------------------


class DefinitionError(SqlfleetError):
    """The definition is not valid."""


class NotFound(DefinitionError):
    """No such thing."""


class DuplicateName(DefinitionError):
    """That name is already taken."""


class InvalidValue(DefinitionError):
    """A value is not valid."""


class InvalidServerUrl(InvalidValue):
    """The server URL is not valid."""


class InvalidJobDatabaseUrl(InvalidValue):
    """The job database URL is not valid: use sqlite:///path or postgresql://user@host/db."""


class InvalidSchedule(InvalidValue):
    """The schedule is not valid."""


class InvalidCommand(InvalidValue):
    """The step's command is not valid."""


class UnsafeVariable(InvalidCommand):
    """A variable's value cannot be put into the script safely."""


class InUse(DefinitionError):
    """It is still in use."""


# -- secrets ------------------------------------------------------------------------------


class SecretKeyError(SqlfleetError):
    """The secret key cannot decrypt the stored credentials."""


# -- the job database ---------------------------------------------------------------------


class StoreError(SqlfleetError):
    """The job database failed."""


class JobDatabaseUnreachable(StoreError):
    """The job database cannot be reached."""


class JobDatabaseUnavailable(JobDatabaseUnreachable):
    """The job database is not answering right now: try again shortly."""


class JobDatabaseReadOnly(StoreError):
    """The job database is read-only: sqlfleet cannot write to it."""


class JobDatabaseCorrupt(StoreError):
    """The job database file is damaged or is not a sqlfleet job database."""


class JobDatabaseNotInitialized(StoreError):
    """The job database is not initialized: run `sqlfleet init`."""


class JobDatabaseTooNew(StoreError):
    """The job database was made by a newer sqlfleet: upgrade sqlfleet."""


class AgentConflict(StoreError):
    """Another agent already uses this job database."""


class ConcurrentChange(StoreError):
    """Someone else changed it at the same time: try again."""


# -- targets: the databases jobs run on ---------------------------------------------------


class TargetError(SqlfleetError):
    """The target database failed."""

    def __init__(self, message: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message)
        # Judged once, by the driver that raised it: may the error pass on its own (a lost
        # connection, a deadlock), so that `retry_on=transient` tries again?
        self.transient = transient


class TargetConnectError(TargetError):
    """Cannot connect to the target database."""


class TargetQueryError(TargetError):
    """The target database reported an error."""

    def __init__(
        self,
        message: str | None = None,
        *,
        statement: int | None = None,
        last_statement: int | None = None,
        position: int | None = None,
        line: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message, transient=transient)
        # The line of the statement (1-based) where the server says the error is, when it
        # gives a line rather than a position.
        self.line = line
        # Which of the statements sent failed (0-based; one of statement..last_statement
        # when the server does not say which of several sent together), and where in its
        # text (1-based character), when the driver knows.
        self.statement = statement
        self.last_statement = statement if last_statement is None else last_statement
        self.position = position


class MultipleStatements(TargetQueryError):
    """Rows were asked of a batch that holds several statements; nothing of it ran."""


class TargetTimeout(TargetError):
    """The target database did not answer in time."""


class TargetCanceled(TargetError):
    """The statement was canceled."""
