"""lossbook.probabilistic."""

ENTRIES = []
