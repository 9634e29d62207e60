"""The generation runtime, the layer only generating stages use: requests and the Generator
protocol, resumable shards, and the workers (local processes or Ray actors) that build them.
It imports only `srlm.core`; stages that never generate (base, seed, sft, pairs, dpo, report)
never import it, so a change here reruns none of them.
"""
