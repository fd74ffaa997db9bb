"""The katas of the lesson `glossary/contrastive.md`."""

from __future__ import annotations

from ..._lazy import lazy
from ..cases import gen, randn
from ..model import Case, Kata, Mistake
from ..registry import register

torch = lazy("torch")


def _info_nce_reference(query, key, temperature):
    from ... import contrastive

    return contrastive.info_nce(query, key, temperature=temperature)


def _info_nce_cases() -> list[Case]:
    g = gen(67)
    base = randn(g, 6, 8)
    return [
        Case("random B=8, D=16, temperature 0.1", (randn(g, 8, 16), randn(g, 8, 16), 0.1)),
        Case("two samples, temperature 1", (torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
                                           torch.tensor([[1.0, 0.0], [0.0, 1.0]]), 1.0),
             hint="each query is a B-way classification over all keys: its positive is the key"
             " with the same index, the other keys are negatives."),
        Case(
            "embeddings of different norms (cosine similarity)",
            (randn(g, 5, 4) * torch.tensor([[0.1], [1.0], [10.0], [100.0], [3.0]]),
             randn(g, 5, 4), 0.2),
            hint="L2-normalise query and key first (F.normalize), so the similarity is a cosine"
            " and the temperature alone sets the sharpness.",
        ),
        Case(
            "near-identical views at temperature 0.01 (exp(100) overflows float32)",
            (base, base + 0.01 * randn(g, 6, 8), 0.01),
            hint="never exponentiate similarities yourself: F.cross_entropy on the [B, B]"
            " similarity matrix with labels arange(B) is the stable log-softmax.",
        ),
        Case("gradient with respect to query and key", (randn(g, 4, 6), randn(g, 4, 6), 0.1),
             grad=("query", "key")),
    ]


register(
    Kata(
        name="info_nce",
        title="InfoNCE with in-batch negatives",
        signature="info_nce(query, key, temperature=0.1)",
        returns="the mean InfoNCE loss over the queries, a scalar tensor",
        task=(
            "query[i] and key[i] are two views of sample i; every other key in the batch is a"
            " negative for query i. L2-normalise both, take the [B, B] matrix of cosine"
            " similarities divided by the temperature, and return the cross entropy of each row"
            " with its diagonal entry as the correct class, averaged over the queries."
        ),
        shapes=("query, key: [B, D] float", "temperature: float > 0", "output: [] scalar"),
        hint="It is a B-way classification per query: logits = similarity matrix, labels ="
        " arange(B).",
        library="lossbook.contrastive.info_nce",
        reference=_info_nce_reference,
        cases=_info_nce_cases,
        lesson="glossary/contrastive.md#explain-infonce",
        mistakes=(
            Mistake(
                "the embeddings are not L2-normalised (raw dot products).",
                lambda q, k, tau: torch.nn.functional.cross_entropy(
                    q @ k.T / tau, torch.arange(q.shape[0])
                ),
            ),
            Mistake(
                "both directions are averaged (CLIP's symmetric loss); the kata asks for query"
                " -> key only.",
                lambda q, k, tau: __import__("lossbook.contrastive", fromlist=["x"]).info_nce(
                    q, k, temperature=tau, symmetric=True
                ),
            ),
            Mistake(
                "the similarities are multiplied by the temperature; divide by it.",
                lambda q, k, tau: _info_nce_reference(q, k, 1.0 / tau),
            ),
        ),
    )
)
