"""Engines behind small interfaces: sentence embeddings, the LLM adapter."""
