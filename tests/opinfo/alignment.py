"""lossbook.alignment."""

ENTRIES = []
