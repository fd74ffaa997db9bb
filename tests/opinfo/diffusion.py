"""lossbook.diffusion."""

ENTRIES = []
