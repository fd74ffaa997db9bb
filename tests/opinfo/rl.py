"""lossbook.rl."""

ENTRIES = []
