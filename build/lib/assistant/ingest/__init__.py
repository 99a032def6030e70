"""Turning files in knowledge/ into chunks in the vector store: load, chunk, index."""
