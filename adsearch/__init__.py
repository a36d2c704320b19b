"""adsearch: model-agnostic anomaly-detection search for heavy dijet resonances."""

__version__ = "0.1.0"
__all__ = ["__version__"]
