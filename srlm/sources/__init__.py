"""Human data in: readers of seed files (oasst trees and messages, plain records, the hub) and
the seed sets built from them (IFT, EFT, EFT-eval).
"""
