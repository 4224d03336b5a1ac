"""GZ-Evo: galaxy foundation models from every Galaxy Zoo campaign."""

__version__ = "0.1.0"
