"""``icdbench config MODEL SPLIT``: the resolved run configuration and, for every value, the layer that set it.

Needs no prepared split (a config depends on the split's name only, through its experiments file)."""

from __future__ import annotations

import json

from icdbench.app.requests import ConfigRequest
from icdbench.config import reads_experiments, resolve_config, value_sources
from icdbench.datasets.registry import get_split
from icdbench.io import format_table
from icdbench.models.registry import get_model


def show_config(request: ConfigRequest) -> int:
    get_split(request.split)  # a misspelt split would otherwise silently miss its published settings
    spec = get_model(request.model)
    resolved = resolve_config(spec, split=request.split, profile=request.profile, overrides=list(request.overrides))
    rows = [[key, json.dumps(value), source] for key, value, source in value_sources(resolved)]
    print(format_table(["key", "value", "set by"], rows))
    applied = [layer.source for layer in resolved.layers]
    note = "" if reads_experiments(request.profile) else " (this profile reads no per-split experiment settings)"
    print(f"\n{spec.name} on {request.split}, profile {request.profile}{note}; config hash {resolved.hash[:12]}")
    print("layers, later over earlier: " + " < ".join(applied))
    return 0
