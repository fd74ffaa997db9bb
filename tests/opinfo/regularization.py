"""lossbook.regularization."""

ENTRIES = []
