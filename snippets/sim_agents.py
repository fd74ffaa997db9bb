"""Interview snippets: motion tokens for an autoregressive sim agent (lesson sim-agents.md)."""

# --8<-- [start:tokenize]
import torch


def tokenize(xy, vocab):
    """xy [B, T+1, 2] positions (start first), vocab [V, 2] displacements -> tokens [B, T]."""
    cur = xy[:, 0]  # match from the position the tokens rebuild, not the logged one
    tokens = []
    for t in range(1, xy.shape[1]):
        dist = (xy[:, t, None] - cur[:, None] - vocab).square().sum(-1)  # [B, V]
        k = dist.argmin(-1)
        cur = cur + vocab[k]
        tokens.append(k)
    return torch.stack(tokens, dim=1)


def detokenize(tokens, vocab, start):
    """tokens [B, T], vocab [V, 2], start [B, 2] -> positions [B, T+1, 2] (start first)."""
    path = start[:, None] + vocab[tokens].cumsum(dim=1)
    return torch.cat([start[:, None], path], dim=1)
# --8<-- [end:tokenize]
