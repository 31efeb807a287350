"""The baseline of the speed benchmark: llama-index defaults with Manba's hashed embedding.

    python benchmarks/baseline.py ingest FILES.jsonl --dir DIR --out ingest.json
    python benchmarks/baseline.py serve --dir DIR --queries-file Q.jsonl --out serve.json
    python benchmarks/baseline.py cold --dir DIR --question "..."

What a developer gets from the llama-index documentation: ``SentenceSplitter()`` (1024/200
tokens) -> ``VectorStoreIndex`` on a ``ChromaVectorStore`` (PersistentClient in its own
folder, telemetry off, cosine space, other HNSW settings default), embedded with Manba's
weight-free hashed embedding (``rag.embeddings.make_embedding(Settings().embed)``), plus
``BM25Retriever.from_defaults(nodes=..., similarity_top_k=10)``, fused by
``QueryFusionRetriever(mode="reciprocal_rerank", num_queries=1, use_async=False)``.

The embedding's n-gram IDF is fitted on the baseline's own chunk texts, as Manba's ingest fits
it on its chunks (``rag/indexing.py``), so both use the same embedding, each on its own
chunks; the table is saved beside the index and set again when serving.

``llama-index-retrievers-bm25`` is used when it is installed. It is not a dependency of Manba
(its releases pin PyStemmer below 3, which Manba pins at 3.1): without it a stand-in makes the
same bm25s calls as its ``from_defaults`` (English stopwords and Snowball stemmer, the
``(?u)\\b\\w\\w+\\b`` token pattern, node text with metadata as embedded, queries tokenized
without stopwords, the corpus saved with the index); the report says which one ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

from bench import WARMUP_QUESTIONS, latency_stats, proc_status_kb, read_jsonl  # noqa: E402

COLLECTION = "baseline"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def _offline() -> None:
    """tiktoken (SentenceSplitter's tokenizer) and Chroma with no network."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        from rag.tokens import tiktoken_cache_dir

        os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache_dir())
    os.environ["ANONYMIZED_TELEMETRY"] = "False"


def bm25_retriever_class() -> tuple[Any, str]:
    """(BM25Retriever class, description): the real one if installed, else the stand-in."""
    try:
        from bench import machine_info
        from llama_index.retrievers.bm25 import BM25Retriever

        version = machine_info()["versions"].get("llama-index-retrievers-bm25")
        return BM25Retriever, f"llama-index-retrievers-bm25 {version}"
    except ImportError:
        return _stand_in(), "stand-in for BM25Retriever (llama-index-retrievers-bm25 not installed)"


def _stand_in() -> Any:
    import bm25s
    import Stemmer
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

    class StandInBM25Retriever(BaseRetriever):
        """BM25Retriever.from_defaults's behaviour over bm25s, for when the package is absent."""

        def __init__(self, bm25: Any, corpus: list[dict[str, Any]], similarity_top_k: int) -> None:
            super().__init__()
            self.bm25 = bm25
            self.corpus = corpus
            self.stemmer = Stemmer.Stemmer("english")
            n_docs = int(bm25.scores.get("num_docs") or len(corpus))
            self.similarity_top_k = min(similarity_top_k, max(n_docs, 1))

        @classmethod
        def from_defaults(
            cls, nodes: list[BaseNode], similarity_top_k: int = 10
        ) -> StandInBM25Retriever:
            corpus = [node_to_metadata_dict(n) | {"node_id": n.node_id} for n in nodes]
            tokens = bm25s.tokenize(
                [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
                stopwords="en",
                stemmer=Stemmer.Stemmer("english"),
                token_pattern=TOKEN_PATTERN,
                show_progress=False,
            )
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            return cls(bm25, corpus, similarity_top_k)

        def persist(self, path: str) -> None:
            self.bm25.save(path, corpus=self.corpus, show_progress=False)
            Path(path, "retriever.json").write_text(
                json.dumps({"similarity_top_k": self.similarity_top_k}), "utf-8"
            )

        @classmethod
        def from_persist_dir(cls, path: str) -> StandInBM25Retriever:
            bm25 = bm25s.BM25.load(path, load_corpus=True, show_progress=False)
            args = json.loads(Path(path, "retriever.json").read_text("utf-8"))
            return cls(bm25, list(bm25.corpus), args["similarity_top_k"])

        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            tokens = bm25s.tokenize(
                query_bundle.query_str,
                stemmer=self.stemmer,
                token_pattern=TOKEN_PATTERN,
                show_progress=False,
            )
            docs, scores = self.bm25.retrieve(tokens, k=self.similarity_top_k, show_progress=False)
            out = []
            for doc, score in zip(docs[0], scores[0], strict=True):
                row = doc if isinstance(doc, dict) else self.corpus[int(doc)]
                out.append(NodeWithScore(node=metadata_dict_to_node(row), score=float(score)))
            return out

    return StandInBM25Retriever


def _embedding(folder: Path | None = None) -> Any:
    from rag.config import Settings
    from rag.embeddings import make_embedding

    emb = make_embedding(Settings().embed)
    if folder is not None and (folder / "idf.npy").exists():
        import numpy as np

        emb.set_idf(np.load(folder / "idf.npy"))
    return emb


def _collection(folder: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    # Embeddings are always passed in: no embedding function, so Chroma downloads nothing.
    return client.get_or_create_collection(
        COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )


def ingest(files: list[Path], folder: Path) -> dict[str, Any]:
    """Build the baseline index of ``files`` (JSONL articles) in ``folder``; stage timings."""
    t0 = time.perf_counter()
    _offline()
    import numpy as np
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    stages: dict[str, float] = {}
    mark = t0

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stages[name] = round(now - mark, 3)
        mark = now

    stage("import")
    docs = []
    for path in files:
        for row in read_jsonl(path):
            docs.append(
                Document(
                    id_=f"{path.name}#{row['id']}",
                    text=row["text"],
                    metadata={"title": row.get("title", ""), "lang": row.get("lang", "")},
                )
            )
    stage("read")
    nodes = SentenceSplitter().get_nodes_from_documents(docs)
    stage("split")
    emb = _embedding()
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    table = emb.idf_table(emb.document_frequencies(texts), len(texts))
    emb.set_idf(table)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "idf.npy", table)
    stage("idf")
    store = ChromaVectorStore(chroma_collection=_collection(folder))
    storage = StorageContext.from_defaults(vector_store=store)
    VectorStoreIndex(nodes, storage_context=storage, embed_model=emb)
    storage.persist(persist_dir=str(folder / "storage"))
    stage("embed + chroma")
    retriever_cls, bm25_name = bm25_retriever_class()
    retriever_cls.from_defaults(nodes=nodes, similarity_top_k=10).persist(str(folder / "bm25"))
    stage("bm25")
    return {
        "docs": len(docs),
        "chunks": len(nodes),
        "seconds": round(time.perf_counter() - t0, 3),
        "stages": stages,
        "bm25": bm25_name,
        "idf": "fitted on the baseline's chunk texts (as embedded, with metadata)",
        "peak_rss_mb": round((proc_status_kb("VmHWM") or 0) / 1024, 1),
    }


def load(folder: Path, k: int) -> Any:
    """The fused retriever over a built baseline index."""
    _offline()
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms.mock import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
    from llama_index.vector_stores.chroma import ChromaVectorStore

    emb = _embedding(folder)
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=_collection(folder)), embed_model=emb
    )
    retriever_cls, _ = bm25_retriever_class()
    bm25 = retriever_cls.from_persist_dir(str(folder / "bm25"))
    bm25.similarity_top_k = k
    # num_queries=1 generates no extra query, so the LLM is never called; MockLLM only keeps
    # llama-index from resolving its default (OpenAI) LLM.
    return QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=k), bm25],
        similarity_top_k=k,
        num_queries=1,
        mode=FUSION_MODES.RECIPROCAL_RANK,
        use_async=False,
        llm=MockLLM(),
    )


def serve(folder: Path, queries_file: Path, k: int) -> dict[str, Any]:
    """Latency of the fused retriever over the queries (no filters: the defaults take
    metadata filters at construction, not per query)."""
    t0 = time.perf_counter()
    fusion = load(folder, k)
    loaded = time.perf_counter() - t0
    queries = read_jsonl(queries_file)
    for _, text in WARMUP_QUESTIONS:
        fusion.retrieve(text)
    times: list[float] = []
    by_lang: dict[str, list[float]] = {}
    known = found = 0
    for q in queries:
        t = time.perf_counter()
        hits = fusion.retrieve(q["text"])
        times.append(time.perf_counter() - t)
        by_lang.setdefault(q["lang"], []).append(times[-1])
        if q.get("expect"):
            known += 1
            found += any(h.node.ref_doc_id == q["expect"] for h in hits[:k])
    return {
        "retrieval": {"none": latency_stats(times)},
        "retrieval_by_question_lang": {lang: latency_stats(v) for lang, v in by_lang.items()},
        "known_item_hit_at_k": round(found / known, 4) if known else None,
        "known_items": known,
        "load_s": round(loaded, 3),
        "peak_rss_mb": round((proc_status_kb("VmHWM") or 0) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_ingest = sub.add_parser("ingest", help="build the baseline index")
    p_ingest.add_argument("files", nargs="+", type=Path)
    p_ingest.add_argument("--dir", type=Path, required=True)
    p_ingest.add_argument("--out", type=Path, required=True)
    p_serve = sub.add_parser("serve", help="time queries on a built baseline index")
    p_serve.add_argument("--dir", type=Path, required=True)
    p_serve.add_argument("--queries-file", type=Path, required=True)
    p_serve.add_argument("--out", type=Path, required=True)
    p_serve.add_argument("--k", type=int, default=10)
    p_cold = sub.add_parser("cold", help="open the index and answer one query (cold start)")
    p_cold.add_argument("--dir", type=Path, required=True)
    p_cold.add_argument("--question", required=True)
    p_cold.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "ingest":
        result = ingest(args.files, args.dir)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    elif args.command == "serve":
        result = serve(args.dir, args.queries_file, args.k)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    else:
        hits = load(args.dir, args.k).retrieve(args.question)
        print(json.dumps({"hits": [h.node.node_id for h in hits]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
