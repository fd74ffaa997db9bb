"""lossbook.debugging."""

ENTRIES = []
