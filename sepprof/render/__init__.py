"""Renderers: finished results in, text out (console tables, JSON, markdown, charts)."""
