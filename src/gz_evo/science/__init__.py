"""Science with a trained encoder, on any image catalog: prediction catalogs
(:mod:`~gz_evo.science.predict`), representations and similarity search
(:mod:`~gz_evo.science.similarity`) and anomaly finding with a few labels
(:mod:`~gz_evo.science.anomaly`). Catalogs, encoders and the batched image stream they share are
in :mod:`~gz_evo.science.catalog`. Kedro-free; the ``predict``, ``similarity`` and ``anomaly``
pipelines are thin nodes over these modules.
"""
