"""icdbench: a reproducible benchmark suite for automated ICD coding."""
__version__ = "0.3.0"
