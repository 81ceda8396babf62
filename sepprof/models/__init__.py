"""Torch modules: a user's model and inputs, the variants built from specs, sepify's conversion."""
