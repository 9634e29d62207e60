"""What the data view shows of one model's evaluation: its IFEval answers with each
instruction's verdict, its judgments of the EFT-eval replies against the human ranks, and its
comparisons (against the references, head to head) with both orders' verdicts.

Pure joins of artifact frames into records for the templates (`srlm.tools.view_models` reads
the artifacts and writes the pages):

- `ifeval_records(ifeval)`: one record a prompt, in key order, each instruction with its strict
  and loose verdict; flags `failed` (an instruction not followed, strict) and `capped` (the
  answer hit the token cap).
- `judge_groups(judge, eft_eval)`: one record a prompt of the EFT-eval set, its replies in
  human-rank order with every judge sample, and how many human-ordered pairs the judge orders
  the same way (the pairs `srlm.evaluation.metrics.pair_outcomes` counts in `pairwise_accuracy`).
- `reference_records` / `h2h_records`: one record a verdict, the model's and the opponent's
  answers side by side, with `flip` when the verdict changes as the answers swap places.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from srlm.evaluation.metrics import pair_outcomes, reply_scores
from srlm.tools.view_data import Sample, samples_by

MODES = ("sampled", "expected")  # the judge's scoring modes (`judge.scoring`)


@dataclass
class Instruction:
    """One IFEval instruction of a prompt and the checker's verdicts on the answer."""

    instruction_id: str
    strict: bool
    loose: bool


@dataclass
class IFEvalRecord:
    """An IFEval prompt, the model's answer and each instruction's verdict."""

    key: int
    prompt: str
    response: str
    n_tokens: int
    finish_reason: str
    instructions: list[Instruction]

    @property
    def flags(self) -> dict[str, bool]:
        return {
            "failed": not all(i.strict for i in self.instructions),
            "failed_loose": not all(i.loose for i in self.instructions),
            "capped": self.finish_reason == "length",
        }


@dataclass
class JudgeReply:
    """One human-ranked reply (None: its text is not in `eft_eval`) with the judge's samples."""

    example_id: str
    human_rank: int
    target_score: int
    response: str | None
    samples: list[Sample]
    scores: dict[str, float | None]  # mode -> mean of the parsed samples (None: none parsed)


@dataclass
class Disagreement:
    """A human-ordered pair of replies the judge does not order as humans do."""

    better: str  # example_id of the reply humans ranked higher
    worse: str
    better_rank: int
    worse_rank: int
    better_score: float | None
    worse_score: float | None

    @property
    def kind(self) -> str:
        if self.better_score is None or self.worse_score is None:
            return "unscored"
        return "tie" if self.better_score == self.worse_score else "reversed"


@dataclass
class JudgeGroup:
    """A prompt of the EFT-eval set, its replies (best human rank first) and the agreement."""

    group_id: str
    prompt: str | None
    replies: list[JudgeReply]
    pairs: int = 0  # human-ordered pairs (replies with different human ranks)
    agreeing: dict[str, int] = field(default_factory=dict)  # mode -> pairs ordered as humans
    disagreements: list[Disagreement] = field(default_factory=list)  # in the sampled mode

    @property
    def flags(self) -> dict[str, bool]:
        return {
            "disagree": self.agreeing.get("sampled", 0) < self.pairs,
            "unparsed": any(s.score is None for r in self.replies for s in r.samples),
        }


@dataclass
class Comparison:
    """One comparison: both answers (None: text not found) and both orders' verdicts."""

    prompt_id: str
    source: str
    prompt: str | None
    answer: str | None
    answer_meta: str  # "<n> tokens, <finish_reason>" or ""
    opponent: str
    opponent_answer: str | None
    model_as_a: float | None  # preference for the model's answer when shown first
    model_as_b: float | None  # ... when shown second
    outcome: str

    @property
    def flip(self) -> bool:
        """The verdict changes when the answers swap places (as `flip_rate` counts it)."""
        if self.model_as_a is None or self.model_as_b is None:
            return False
        return (self.model_as_a > 0.5) != (self.model_as_b > 0.5)

    @property
    def flags(self) -> dict[str, bool]:
        return {
            "flip": self.flip,
            "win": self.outcome == "win",
            "tie": self.outcome == "tie",
            "loss": self.outcome == "loss",
        }


def ifeval_records(ifeval: pl.DataFrame) -> list[IFEvalRecord]:
    """One record a prompt of an `ifeval_results` frame, in key order."""
    return [
        IFEvalRecord(
            row["key"],
            row["prompt"],
            row["response"],
            row["n_tokens"],
            row["finish_reason"],
            [
                Instruction(*verdict)
                for verdict in zip(row["instruction_ids"], row["strict"], row["loose"], strict=True)
            ],
        )
        for row in ifeval.sort("key").iter_rows(named=True)
    ]


def _agreement(judge: pl.DataFrame, mode: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-reply scores, their human-ordered pairs with `correct`) in one scoring mode."""
    replies = reply_scores(judge, mode)
    return replies, pair_outcomes(replies)


def judge_groups(judge: pl.DataFrame, eft_eval: pl.DataFrame | None) -> list[JudgeGroup]:
    """One record a group of a `judge_outputs` frame (sorted by group_id), its replies' texts
    from the `seed_eft` frame `eft_eval` (None: texts not shown)."""
    texts: dict[str, dict] = {}
    if eft_eval is not None:
        texts = {r["example_id"]: r for r in eft_eval.iter_rows(named=True)}
    samples = samples_by(judge, "example_id")
    scores: dict[str, dict[str, float | None]] = {}
    groups: dict[str, JudgeGroup] = {}
    for mode in MODES:
        replies, pairs = _agreement(judge, mode)
        for row in replies.iter_rows(named=True):
            scores.setdefault(row["example_id"], {})[mode] = row["score"]
        for (group_id,), found in pairs.group_by("group_id"):
            group = groups.setdefault(str(group_id), JudgeGroup(str(group_id), None, []))
            group.pairs = found.height
            group.agreeing[mode] = int(found["correct"].sum())
            if mode == "sampled":
                group.disagreements = _disagreements(found, replies["example_id"])
    first = judge.unique("example_id", keep="first").sort("group_id", "human_rank", "example_id")
    for row in first.iter_rows(named=True):
        group = groups.setdefault(row["group_id"], JudgeGroup(row["group_id"], None, []))
        text = texts.get(row["example_id"])
        if text is not None and group.prompt is None:
            group.prompt = text["prompt"]
        group.replies.append(
            JudgeReply(
                row["example_id"],
                row["human_rank"],
                row["target_score"],
                None if text is None else text["response"],
                samples[row["example_id"]],
                scores.get(row["example_id"], {}),
            )
        )
    return [groups[g] for g in sorted(groups)]


def _disagreements(pairs: pl.DataFrame, example_ids: pl.Series) -> list[Disagreement]:
    """The misordered pairs of one group; `i`, `i_b` index the reply frame of `example_ids`."""
    found = []
    for row in pairs.filter(~pl.col("correct")).sort("i", "i_b").iter_rows(named=True):
        a = (example_ids[row["i"]], row["rank_a"], row["score_a"])
        b = (example_ids[row["i_b"]], row["rank_b"], row["score_b"])
        better, worse = (a, b) if row["rank_a"] < row["rank_b"] else (b, a)
        found.append(Disagreement(better[0], worse[0], better[1], worse[1], better[2], worse[2]))
    return found


def _comparisons(
    verdicts: pl.DataFrame,
    answers: pl.DataFrame | None,
    prompts: pl.DataFrame | None,
    theirs: dict[str, tuple[str, str | None]],
) -> list[Comparison]:
    """Verdicts joined with the model's answers, the prompts and `theirs` (prompt_id ->
    (opponent label, opponent text)), in the verdicts' order."""
    mine = {} if answers is None else {r["prompt_id"]: r for r in answers.iter_rows(named=True)}
    asked = {} if prompts is None else dict(prompts.select("prompt_id", "prompt").iter_rows())
    records = []
    for row in verdicts.iter_rows(named=True):
        answer = mine.get(row["prompt_id"])
        label, text = theirs.get(row["prompt_id"], (row["opponent"], None))
        records.append(
            Comparison(
                row["prompt_id"],
                row["source"],
                asked.get(row["prompt_id"]),
                None if answer is None else answer["response"],
                "" if answer is None else f"{answer['n_tokens']} tokens, {answer['finish_reason']}",
                label,
                text,
                row["model_as_a"],
                row["model_as_b"],
                row["outcome"],
            )
        )
    return records


def reference_records(
    verdicts: pl.DataFrame, answers: pl.DataFrame | None, prompts: pl.DataFrame | None
) -> list[Comparison]:
    """Comparisons against the references: the opponent's text is the prompt's `reference`
    in the `eval_prompts` frame `prompts`, labelled with its `reference_model`."""
    theirs: dict[str, tuple[str, str | None]] = {}
    if prompts is not None:
        for prompt_id, reference, reference_model in prompts.select(
            "prompt_id", "reference", "reference_model"
        ).iter_rows():
            theirs[prompt_id] = (reference_model or "reference", reference)
    return _comparisons(verdicts, answers, prompts, theirs)


def h2h_records(
    verdicts: pl.DataFrame,
    answers: pl.DataFrame | None,
    prompts: pl.DataFrame | None,
    opponents: dict[str, pl.DataFrame],
) -> list[Comparison]:
    """Head-to-head comparisons: the opponent's text is its answer in `opponents` (model name
    as the verdicts' `opponent` column spells it -> that model's `answers` frame)."""
    texts = {
        name: dict(frame.select("prompt_id", "response").iter_rows())
        for name, frame in opponents.items()
    }
    theirs: dict[str, tuple[str, str | None]] = {
        prompt_id: (opponent, texts.get(opponent, {}).get(prompt_id))
        for prompt_id, opponent in verdicts.select("prompt_id", "opponent").iter_rows()
    }
    return _comparisons(verdicts, answers, prompts, theirs)
