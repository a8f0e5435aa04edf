"""Models: one file per family, each registering itself with ``@register_model`` (timm style).

Importing this package is cheap: it imports no model file. ``icdbench.models.registry.all_models()``
/ ``get_model()`` discover every module in this folder on first use. Shared layers live in ``layers/``;
the batch and output contracts in ``base.py``.
"""
