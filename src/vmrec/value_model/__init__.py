"""Value-model weights from logged sessions: simulator, session embeddings, the embedding-matching
estimator, the Plackett-Luce reference, the recovery study and its figures."""
