"""One module per command: each a short recipe over spec, variants, pipeline and results."""
