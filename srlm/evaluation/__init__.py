"""Evaluation: held-out prompt sets, reward-model metrics against human ranks, pairwise
comparisons by a fixed evaluator, and the report across models.
"""
