"""The errors attrkit raises.

Callers catch :class:`AttrkitError` for anything attrkit reports about its inputs; the
subclasses say which kind of input was wrong. Every message names where the problem is (file,
line or row, column) and the rule that failed, on one line.
"""

from __future__ import annotations


class AttrkitError(Exception):
    """Base class: a problem with the caller's inputs or options, explained in one line."""


class ConfigError(AttrkitError, ValueError):
    """The metric attribution configuration or an option breaks a rule."""


class InputError(AttrkitError, ValueError):
    """A data file or frame breaks a rule of its schema.

    Attributes:
        source: the file path or a description of the frame.
        line: 1-based line number in a CSV/JSONL file, counting the header as line 1; ``None``
            for Parquet and in-memory frames, where ``row`` is given instead.
        row: 0-based row number for Parquet and frames.
        column: the column that broke the rule, when there is one.
        rule: what was expected.
    """

    def __init__(
        self,
        source: str,
        rule: str,
        *,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.source, self.rule, self.line, self.row, self.column = source, rule, line, row, column
        where = source
        if line is not None:
            where += f", line {line}"
        elif row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {rule}")


class AwsError(AttrkitError):
    """An AWS call failed: access, missing bucket or key, credentials or endpoint."""


class ReportError(AttrkitError):
    """A report notebook failed; the HTML with the error was still written.

    Attributes:
        bad_input: the failure was the user's input or a parameter (an :class:`InputError` or
            :class:`ConfigError` inside the notebook), not attrkit: the CLI exits 2, not 1.
    """

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input
