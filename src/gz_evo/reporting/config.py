"""The reporting parameters (``conf/base/parameters_reporting.yml``) as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from gz_evo.config import from_params


@dataclass(frozen=True)
class ReportingConfig:
    #: the page's title
    title: str
    #: example test galaxies drawn per campaign
    examples_per_campaign: int
    #: questions shown per example galaxy (those its volunteers answered most)
    example_questions: int
    #: side of the example images in pixels (read from the catalog's raw images)
    example_image_size: int
    #: bins of predicted vote fraction in the calibration plot
    calibration_bins: int
    #: resolution of the embedded figures
    figure_dpi: int

    @classmethod
    def from_params(cls, params: dict) -> ReportingConfig:
        return from_params(cls, params, "reporting")
