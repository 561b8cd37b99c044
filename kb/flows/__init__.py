"""Guided decision flows: the YAML model, its validation, a pure engine and the decision record."""
