"""lossbook.contrastive."""

ENTRIES = []
