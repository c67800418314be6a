"""The compile report: its schema and verdicts, the terminal and Markdown summaries (summary), the
HTML page (html) and the comparison of builds (compare)."""
from .schema import SCHEMA, schema_errors, validate_report
from .summary import finalize, render_markdown, summary_lines

__all__ = ["SCHEMA", "finalize", "render_markdown", "schema_errors", "summary_lines", "validate_report"]
