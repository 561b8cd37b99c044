"""Loading, chunking, embedding, storing and retrieving the corpus."""
