"""The self-rewarding loop's logic on frames and text: self-instruct prompts, the judge
(prompt, score parsing, aggregation) and preference pairs. Engines are handed in, never imported.
"""
