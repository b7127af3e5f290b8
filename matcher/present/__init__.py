"""What users see and take away, for the CLI and the app alike: tables (and their CSV), terminal
text, and the twinning brief (Markdown, PDF). Nothing here scores: it renders results."""
from .brief import brief_markdown, brief_pdf, twinning_brief
from .safe import csv_bytes, md_escape
from .tables import cases_table, cohort_members_table, reviews_table, twins_table
from .text import cases_text, cohorts_text, fit_weights_text, reviews_text, twins_text

__all__ = ["brief_markdown", "brief_pdf", "cases_table", "cases_text", "cohort_members_table", "cohorts_text",
           "csv_bytes", "fit_weights_text", "md_escape", "reviews_table", "reviews_text", "twinning_brief", "twins_table", "twins_text"]
