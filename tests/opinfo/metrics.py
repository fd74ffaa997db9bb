"""lossbook.metrics."""

ENTRIES = []
