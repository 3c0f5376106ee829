"""Tile coders (see base.py): one module per method, found by the method table."""
