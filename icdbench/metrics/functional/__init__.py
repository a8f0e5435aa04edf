"""Pure metric functions on torch tensors, one module per family; docstrings state shapes.

The dense ``[N, C]`` score matrix is touched only by ``ranks`` (sorting) and ``sets`` (thresholding); every
other module works on the sparse gold and predicted cells those produce.
"""
