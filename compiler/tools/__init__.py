"""Drivers that check l1forge against other frameworks (top layer: may import anything)."""
