"""WeightedRankFusion: reciprocal rank fusion of the dense and lexical result lists, by name.

Haystack's DocumentJoiner fuses a variadic list of inputs; naming the two sides keeps the weights
unambiguous. Each fused document keeps its dense cosine similarity in `meta["dense_score"]`
(None when the dense side did not return it), which the answer layer uses to judge relevance.
"""

from __future__ import annotations

from dataclasses import replace

from haystack import Document, component

RRF_K = 60


@component
class WeightedRankFusion:
    def __init__(self, dense_weight: float = 0.5, top_k: int = 20):
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"WeightedRankFusion: dense_weight is {dense_weight}; it must be between 0 and 1")
        if top_k < 1:
            raise ValueError(f"WeightedRankFusion: top_k is {top_k}; it must be at least 1")
        self.dense_weight = dense_weight
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, dense: list[Document], lexical: list[Document], top_k: int | None = None) -> dict:
        scores: dict[str, float] = {}
        docs: dict[str, Document] = {}
        dense_scores: dict[str, float] = {}
        for weight, results in ((self.dense_weight, dense), (1.0 - self.dense_weight, lexical)):
            for rank, doc in enumerate(results):
                scores[doc.id] = scores.get(doc.id, 0.0) + weight / (RRF_K + rank + 1)
                docs.setdefault(doc.id, doc)
        for doc in dense:
            dense_scores[doc.id] = float(doc.score or 0.0)
        ranked = sorted(scores, key=lambda i: -scores[i])[: top_k or self.top_k]
        out = [replace(docs[i], score=scores[i], meta={**docs[i].meta, "dense_score": dense_scores.get(i)}) for i in ranked]
        return {"documents": out}
