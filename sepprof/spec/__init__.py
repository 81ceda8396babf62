"""Layer, variant, network and budget specs, the YAML reader and JSON inputs (no torch)."""
