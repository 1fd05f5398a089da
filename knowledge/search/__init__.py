"""Finding and citing: the Chroma store, the lexical (BM25) index and its tokenizer, hybrid
retrieval, answers as data (citations, excerpts) and the calibrated answer confidence."""
