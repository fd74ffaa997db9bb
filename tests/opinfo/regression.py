"""lossbook.regression."""

ENTRIES = []
