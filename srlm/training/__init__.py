"""Models: importing the base model (M0) and training with TRL (SFT for M1, DPO for M2, M3...)."""
