"""lossbook.generative."""

ENTRIES = []
