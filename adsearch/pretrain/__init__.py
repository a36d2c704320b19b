"""Self-supervised (contrastive) pretraining of jet encoders (issue 15)."""
