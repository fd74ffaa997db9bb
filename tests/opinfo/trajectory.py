"""lossbook.trajectory."""

ENTRIES = []
