"""The report as one self-contained HTML page: the packaged Jinja2 template, figures inlined.

Figures become ``data:image/png;base64,...`` URIs and the style sheet is inline, so the file
opens anywhere (a browser offline, an MLflow artifact view, an e-mail attachment) without
fetching anything.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

TEMPLATE = "report.html.j2"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render(sections: Sequence[dict], title: str, subtitle: str = "") -> str:
    """The HTML page for ``sections`` (:func:`gz_evo.reporting.blocks.section` dicts)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("gz_evo.reporting", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["data_uri"] = data_uri
    missing = [s for s in sections if s["status"] != "ran"]
    return environment.get_template(TEMPLATE).render(
        title=title, subtitle=subtitle, sections=list(sections), missing=missing
    )
