"""The experiment's markdown summary as HTML, by Python-Markdown."""

from __future__ import annotations

import markdown
from markupsafe import Markup

EXTENSIONS = ("tables", "fenced_code", "sane_lists")


def summary_html(text: str) -> Markup:
    """``text`` (markdown: headings, lists, pipe tables, code, emphasis) as HTML.

    Raw HTML in the text is escaped, not passed through: the summary interpolates names from the
    results.
    """
    md = markdown.Markdown(extensions=list(EXTENSIONS), output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return Markup(md.convert(text))
