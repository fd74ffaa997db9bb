"""lossbook.simulation."""

ENTRIES = []
