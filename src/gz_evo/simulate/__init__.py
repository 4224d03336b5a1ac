"""The embedded synthetic Galaxy Zoo universe: morphology, GalSim images, volunteers, formats.

Importable without Kedro. Simplified on purpose (a demo, not a survey simulator):

- Galaxies are a Sersic bulge plus an inclined exponential disk; bars, log-spiral arms, rings and
  tidal features are analytic surface-brightness patterns, clumps are GalSim ``RandomKnots``.
  There is no redshift, no K-correction and no dust; colours are two fixed stellar populations
  (red bulge/bar/tidal light, blue disk/arms/clumps) with a little per-galaxy scatter.
- A survey "look" is a pixel scale, a Moffat PSF, a sky noise level, a flux scale and a colour
  stretch; one PSF for all three bands.
- Volunteers answer each question independently given the latent truth (no volunteer identity,
  skill or fatigue); difficulty only blurs answers toward uniform.
"""
