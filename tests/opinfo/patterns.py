"""lossbook.patterns."""

ENTRIES = []
