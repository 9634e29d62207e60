"""The fixed evaluator of the comparison stages: a local model or an OpenAI-compatible endpoint.

Kept apart from `make_generator` so the generation stages do not depend on the endpoint code.
An endpoint is checked when the evaluator is made, before any request (`check_endpoint`: no
credentials in the URL, no plain http off this machine unless `evaluator.allow_insecure_http`),
and its identity in metrics and fingerprints never carries a URL's userinfo.
"""

from __future__ import annotations

from pathlib import Path

from srlm.core.fingerprints import input_hash
from srlm.engines import make_generator


def make_evaluator(config, engine_config):
    """The fixed evaluator (an `EvaluatorParams`): the OpenAI-compatible endpoint when
    `config.endpoint` is set, else the local model `config.model` on the configured engine."""
    if config.endpoint:
        from srlm.engines.endpoint import EndpointEvaluator

        return EndpointEvaluator(
            config.endpoint,
            config.endpoint_model,
            config.api_key_env,
            config.timeout_s,
            allow_insecure_http=config.allow_insecure_http,
        )
    return make_generator(config.model, engine_config)


def evaluator_identity(config) -> dict:
    """Who judged: the endpoint (without userinfo) and model name, or the local model path and
    content hash."""
    if config.endpoint:
        from srlm.engines.endpoint import public_url

        return {"evaluator": f"{public_url(config.endpoint)}#{config.endpoint_model}"}
    identity = {"evaluator": config.model}
    if Path(config.model).exists():  # (the fake engine needs no files)
        identity["evaluator_sha256"] = input_hash(config.model)
    return identity
