"""The report: every pipeline's outputs as one self-contained HTML page.

``sections`` turns each stage's outputs (or their absence) into a section of blocks (text, tables,
figures as PNG bytes), ``figures`` draws in the project's style (:mod:`gz_evo.plotting`) and
``render`` fills the packaged Jinja2 template (``templates/report.html.j2``), embedding every
figure as a base64 data URI. Numbers are read from the stages' outputs, never typed in.
"""
