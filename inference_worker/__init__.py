"""OsteoLens inference worker: image pipelines, models, saliency and phantoms.

This package must stay importable without Django: the web side talks to it only
through JSON-serialisable requests/results and shared storage.
"""

__version__ = "0.1.0"
