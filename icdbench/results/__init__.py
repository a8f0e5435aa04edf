"""Run records, provenance, and (elsewhere in this package) leaderboards built from them."""
