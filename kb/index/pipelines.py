"""Every Haystack component and pipeline is built here, and only here.

- `build_document_embedder` / `build_text_embedder`: sentence-transformers, loaded offline from a
  local path (the packaged default model) or the configured model name.
- `open_vector_store`: Qdrant, embedded local mode in the generation's folder, or a server
  collection per generation when `QDRANT_URL` is set.
- `build_query_pipeline`: hybrid retrieval, dense (embed, then Qdrant) and lexical (BM25 over
  SQLite FTS5), fused by reciprocal rank.
- `build_answer_pipeline`: the whole answer path, as named components with typed outputs:
  `RequestReader` (scope, danger cues, role, expanded queries, separate questions) -> the hybrid
  retrieval above -> `SectionRanker` (chunks to sections, matched also by their phrasings) ->
  `SectionQuoter` (the best section quoted, a second for a second question, "See also" links).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from haystack import Pipeline, component
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
    SentenceTransformersTextEmbedder,
)
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from kb.config import Settings
from kb.errors import IndexDamagedError
from kb.index.fusion import WeightedRankFusion
from kb.index.generations import Generation
from kb.index.lexical import SQLiteBM25Retriever
from kb.index.sections import SectionIndex, SectionRanker
from kb.index.vector import Hits, Vector
from kb.quoting import SectionQuoter
from kb.request import RequestReader

log = logging.getLogger(__name__)

LOCAL_COLLECTION = "chunks"
CANDIDATES = 20  # passages each retriever hands to the fusion step
DENSE_WEIGHT = 0.6  # share of the dense side in rank fusion (0.5: must-fact coverage 86.1%, 0.6: 88.2% on the dev set)


def _embedder_args(settings: Settings) -> dict:
    model = settings.model_path()
    return {"model": model, "local_files_only": True, "progress_bar": False, "normalize_embeddings": True}


# Small batches pad less: on this 2-core machine batch 8 embeds the corpus faster than 32
# (7.4 s against 9.0 s) and keeps the peak memory lower (915 MB against 1,050 MB).
EMBED_BATCH = 8


def build_document_embedder(settings: Settings, batch_size: int = EMBED_BATCH) -> SentenceTransformersDocumentEmbedder:
    return SentenceTransformersDocumentEmbedder(**_embedder_args(settings), batch_size=batch_size)


def build_text_embedder(settings: Settings) -> SentenceTransformersTextEmbedder:
    use_torch_threads(ANSWER_THREADS)
    return SentenceTransformersTextEmbedder(**_embedder_args(settings))


# One question embeds on one thread. With two, each small operation waits for the other core,
# and when anything else is running (another session's answer, a test, a re-index) that wait is
# long: on this 2-core machine under load, 60 questions took median 48 ms and p95 500 ms with
# two threads, median 15 ms and p95 21 ms with one. A batch of chunks is another matter (two
# threads embed it 1.6 times faster), so indexing takes every core while it embeds.
ANSWER_THREADS = 1


def use_torch_threads(n: int) -> None:
    """Set torch's intra-op threads for the process (torch keeps one setting for all threads)."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@contextlib.contextmanager
def batch_threads():
    """Every core while a batch embeds, then back to the answering setting."""
    use_torch_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        use_torch_threads(ANSWER_THREADS)


def server_collection(settings: Settings, generation: Generation | str) -> str:
    """A generation's collection on a Qdrant server: `<prefix>_gen_NNNNNN`."""
    name = generation if isinstance(generation, str) else generation.name
    return f"{settings.qdrant_collection}_{name.replace('-', '_')}"


def server_alias(settings: Settings) -> str:
    """The alias that follows the served generation's collection: `<prefix>_current`."""
    return f"{settings.qdrant_collection}_current"


# Embeddings are normalised (see _embedder_args), so the dot product is their cosine similarity;
# Qdrant's local mode re-normalises every stored vector on each cosine query (14 ms at 17,800 chunks),
# and skips that for the dot product. Generations built before this record no similarity: cosine.
SIMILARITY = "dot_product"


def open_vector_store(settings: Settings, generation: Generation, embedding_dim: int, create: bool = False, similarity: str = SIMILARITY) -> QdrantDocumentStore:
    """The generation's Qdrant collection. A local folder that another process holds open is
    read from a private copy instead (Qdrant's local mode allows one client per folder)."""
    common = {"embedding_dim": embedding_dim, "similarity": similarity, "progress_bar": False, "recreate_index": create}
    if settings.qdrant_url:
        store = QdrantDocumentStore(url=settings.qdrant_url, index=server_collection(settings, generation), **common)
        store.count_documents()
        return store
    if not create and not (generation.qdrant_path / "collection").is_dir():
        raise IndexDamagedError(f"{generation.qdrant_path} holds no Qdrant collection")
    store = QdrantDocumentStore(path=str(generation.qdrant_path), index=LOCAL_COLLECTION, **common)
    try:
        store.count_documents()  # opens the client, and with it the folder lock
    except (RuntimeError, OSError) as exc:
        # Held by another process ("already accessed"), or a folder this process may not lock
        # (read-only): read a private copy instead. A store being created has no such way out.
        if create or (isinstance(exc, RuntimeError) and "already accessed" not in str(exc)):
            raise
        copy = Path(tempfile.mkdtemp(prefix=f"kb-{generation.name}-")) / "qdrant"
        shutil.copytree(generation.qdrant_path, copy, ignore=shutil.ignore_patterns(".lock"))
        log.info("index %s cannot be opened in place (%s); reading a private copy at %s", generation.name, exc, copy)
        store = QdrantDocumentStore(path=str(copy), index=LOCAL_COLLECTION, **common)
        store.count_documents()
    return store


@contextlib.contextmanager
def _server_client(settings: Settings):
    from qdrant_client import QdrantClient

    client = QdrantClient(url=settings.qdrant_url, api_key=os.environ.get("QDRANT_API_KEY") or None)
    try:
        yield client
    finally:
        client.close()


def point_alias(settings: Settings, generation: Generation) -> None:
    """With a Qdrant server, the alias `<prefix>_current` follows the served generation's
    collection, switched in one request (delete and create are applied together)."""
    if not settings.qdrant_url:
        return
    from qdrant_client import models

    alias = server_alias(settings)
    with _server_client(settings) as client:
        client.update_collection_aliases(
            change_aliases_operations=[
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)),
                models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=server_collection(settings, generation), alias_name=alias)),
            ]
        )


def drop_server_collections(settings: Settings, generation_names: list[str]) -> None:
    """With a Qdrant server, delete the collections of removed generations (local mode keeps
    vectors in the generation folder, removed with it)."""
    if not settings.qdrant_url or not generation_names:
        return
    with _server_client(settings) as client:
        for name in generation_names:
            client.delete_collection(collection_name=server_collection(settings, name))
            log.info("deleted Qdrant collection %s", server_collection(settings, name))


def build_dense_retriever(store: QdrantDocumentStore) -> QdrantEmbeddingRetriever:
    return QdrantEmbeddingRetriever(document_store=store, top_k=CANDIDATES)


def build_lexical_retriever(generation: Generation) -> SQLiteBM25Retriever:
    return SQLiteBM25Retriever(db_path=str(generation.chunks_db), top_k=CANDIDATES)


def build_query_pipeline(text_embedder: SentenceTransformersTextEmbedder, dense: QdrantEmbeddingRetriever, lexical: SQLiteBM25Retriever) -> Pipeline:
    """question -> [embedder -> Qdrant] + [BM25] -> reciprocal rank fusion."""
    pipeline = Pipeline()
    pipeline.add_component("embedder", text_embedder)
    pipeline.add_component("dense", dense)
    pipeline.add_component("lexical", lexical)
    pipeline.add_component("fusion", WeightedRankFusion(dense_weight=DENSE_WEIGHT, top_k=CANDIDATES))
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("dense.documents", "fusion.dense")
    pipeline.connect("lexical.documents", "fusion.lexical")
    return pipeline


@component
class QueryEmbedder:
    """question -> its embedding as a `Vector` (one value to pass on, not 384 to copy)."""

    def __init__(self, text_embedder: SentenceTransformersTextEmbedder):
        self.text_embedder = text_embedder

    def warm_up(self) -> None:
        self.text_embedder.warm_up()

    @component.output_types(embedding=Vector)
    def run(self, text: str) -> dict:
        return {"embedding": Vector.of(self.text_embedder.run(text=text)["embedding"])}


@component
class VectorRetriever:
    """The Qdrant retriever, taking a `Vector`, its chunks passed on as `Hits`."""

    def __init__(self, retriever: QdrantEmbeddingRetriever):
        self.retriever = retriever

    @component.output_types(hits=Hits)
    def run(self, query_embedding: Vector, filters: dict | None = None) -> dict:
        return {"hits": Hits(tuple(self.retriever.run(query_embedding=list(query_embedding.values), filters=filters)["documents"]))}


@component
class KeywordRetriever:
    """The BM25 retriever, its chunks passed on as `Hits`."""

    def __init__(self, retriever: SQLiteBM25Retriever):
        self.retriever = retriever

    def warm_up(self) -> None:
        self.retriever.warm_up()

    @component.output_types(hits=Hits)
    def run(self, query: str, kinds: list[str] | None = None, audience: str | None = None) -> dict:
        return {"hits": Hits(tuple(self.retriever.run(query=query, kinds=kinds, audience=audience)["documents"]))}


@component
class HitsFusion:
    """Rank fusion of the dense and keyword `Hits`."""

    def __init__(self, fusion: WeightedRankFusion):
        self.fusion = fusion

    @component.output_types(hits=Hits)
    def run(self, dense: Hits, lexical: Hits) -> dict:
        return {"hits": Hits(tuple(self.fusion.run(dense=list(dense.documents), lexical=list(lexical.documents))["documents"]))}


@component
class PartEmbedder:
    """The separate questions of a question that asks more than one, embedded in one batch with
    the model the text embedder has loaded (none asked: nothing embedded)."""

    def __init__(self, text_embedder: SentenceTransformersTextEmbedder):
        self.text_embedder = text_embedder

    @component.output_types(embeddings=list[Vector])
    def run(self, texts: list[str]) -> dict:
        if not texts:
            return {"embeddings": []}
        self.text_embedder.warm_up()
        backend = self.text_embedder.embedding_backend
        return {"embeddings": [Vector.of(e) for e in backend.embed(texts, batch_size=len(texts), show_progress_bar=False, normalize_embeddings=True)]}


def build_answer_pipeline(
    text_embedder: SentenceTransformersTextEmbedder,
    dense: QdrantEmbeddingRetriever,
    lexical: SQLiteBM25Retriever,
    sections: SectionIndex,
    reader: RequestReader,
    quoter: SectionQuoter,
) -> Pipeline:
    """question -> RequestReader -> [embedder -> Qdrant] + [BM25] -> fusion -> SectionRanker -> SectionQuoter.

    Inputs: reader (question, persona, previous_cues), dense (filters), lexical (kinds, audience).
    Output: quoter.answer."""
    pipeline = Pipeline()
    pipeline.add_component("reader", reader)
    pipeline.add_component("embedder", QueryEmbedder(text_embedder))
    pipeline.add_component("parts", PartEmbedder(text_embedder))
    pipeline.add_component("dense", VectorRetriever(dense))
    pipeline.add_component("lexical", KeywordRetriever(lexical))
    pipeline.add_component("fusion", HitsFusion(WeightedRankFusion(dense_weight=DENSE_WEIGHT, top_k=CANDIDATES)))
    pipeline.add_component("ranker", SectionRanker(sections, role_sections={r.role: r.sections for r in reader.language.roles}))
    pipeline.add_component("quoter", quoter)
    pipeline.connect("reader.query", "embedder.text")
    pipeline.connect("reader.lexical_query", "lexical.query")
    pipeline.connect("reader.parts", "parts.texts")
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("dense.hits", "fusion.dense")
    pipeline.connect("lexical.hits", "fusion.lexical")
    pipeline.connect("fusion.hits", "ranker.hits")
    pipeline.connect("embedder.embedding", "ranker.query_embedding")
    pipeline.connect("parts.embeddings", "ranker.part_embeddings")
    pipeline.connect("reader.request", "ranker.request")
    pipeline.connect("reader.request", "quoter.request")
    pipeline.connect("ranker.ranking", "quoter.ranking")
    return pipeline
