import polars as pl
import pytest
import torch
from transformers import AutoModelForCausalLM

from srlm.core.params import LoraParams, SFTParams
from srlm.training.completion_loss import completion_loss
from srlm.training.trainers import sft_records, train_sft
from tests.helpers import assert_trained_alike


def seed_frames():
    ift = pl.DataFrame(
        {
            "example_id": ["i1", "i2"],
            "prompt": ["Say hi.", "Count to three."],
            "response": ["Hi!", "One, two, three."],
            "source": ["t", "t"],
        }
    )
    eft = pl.DataFrame(
        {
            "judge_input": ["Judge: is 'Hi!' good?"] * 2,
            "judge_target": ["Short and fine.\nScore: 4", "Off topic.\nScore: 1"],
        }
    )
    return ift, eft


def test_sft_records_are_prompt_completion_chats():
    ift, eft = seed_frames()
    records = sft_records(ift, eft)
    assert len(records) == 4
    assert records[0] == {
        "prompt": [{"role": "user", "content": "Say hi."}],
        "completion": [{"role": "assistant", "content": "Hi!"}],
    }
    assert records[-1]["completion"][0]["content"].endswith("Score: 1")


def test_completion_loss_matches_the_models_own_loss(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (2, 12))
    labels = ids.clone()
    labels[:, :7] = -100  # prompt positions carry no loss
    labels[1, 10:] = -100  # padding
    expected = model(input_ids=ids, labels=labels).loss
    got = completion_loss(
        model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    )
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("lora", [False, True])
def test_sft_trains_and_saves_a_plain_model(tiny_model_dir, tmp_path, lora):
    ift, eft = seed_frames()
    cfg = SFTParams(
        epochs=3,
        learning_rate=5e-3,
        batch_size=2,
        precision="fp32",
        lora=LoraParams(enabled=lora, r=4, alpha=8),
    )
    out = tmp_path / "m1"
    metrics = train_sft(tiny_model_dir, ift, eft, cfg, out, loss_csv=tmp_path / "loss.csv")
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    after_model = AutoModelForCausalLM.from_pretrained(out)
    after = after_model.state_dict()
    assert set(before) == set(after)  # no adapter weights left: LoRA was merged
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "training changed no parameter"
    assert metrics["steps"] == 6 and metrics["examples"] == 4
    assert metrics["last_loss"] < metrics["first_loss"]
    lines = (tmp_path / "loss.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,loss,learning_rate,grad_norm" and len(lines) == 7
    assert (out / "tokenizer.json").is_file() and (out / "model.safetensors").is_file()


def completion_logprob(model, tokenizer, prompt, answer):
    """Sum of log-probs of the assistant answer tokens given the chat-formatted prompt."""
    user = [{"role": "user", "content": prompt}]
    prompt_ids = tokenizer.apply_chat_template(user, add_generation_prompt=True, return_dict=True)[
        "input_ids"
    ]
    full = tokenizer.apply_chat_template(
        user + [{"role": "assistant", "content": answer}], return_dict=True
    )["input_ids"]
    ids = torch.tensor([full])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    targets = ids[0, 1:]
    logps = torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0]
    return logps[len(prompt_ids) - 1 :].sum().item()


def dpo_loss(policy, reference, tokenizer, pairs, beta):
    """Mean DPO loss of `policy` against `reference` on the pairs (ln 2 when they are equal)."""
    losses = []
    for prompt, chosen, rejected in pairs.select("prompt", "chosen", "rejected").iter_rows():
        margin = (
            completion_logprob(policy, tokenizer, prompt, chosen)
            - completion_logprob(reference, tokenizer, prompt, chosen)
            - completion_logprob(policy, tokenizer, prompt, rejected)
            + completion_logprob(reference, tokenizer, prompt, rejected)
        )
        losses.append(-torch.nn.functional.logsigmoid(torch.tensor(beta * margin)).item())
    return sum(losses) / len(losses)


def test_dpo_really_trains(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from srlm.core.params import DPOParams
    from srlm.training.trainers import train_dpo

    pairs = pl.DataFrame(
        {
            "prompt_id": ["a", "b", "c", "d"],
            "prompt": ["Name a fruit.", "Say hello.", "What is 2+2?", "Pick a colour."],
            "chosen": ["An apple.", "Hello there!", "It is 4.", "Blue."],
            "rejected": ["A rock.", "Go away.", "It is 5.", "Loud."],
            "chosen_score": [5.0, 4.0, 5.0, 4.0],
            "rejected_score": [1.0, 1.0, 2.0, 2.0],
            "margin": [4.0, 3.0, 3.0, 2.0],
        }
    )
    cfg = DPOParams(
        beta=0.1, epochs=4, learning_rate=2e-3, batch_size=2, max_length=128, precision="fp32"
    )
    metrics = train_dpo(tiny_model_dir, pairs, cfg, tmp_path / "m2", log_csv=tmp_path / "log.csv")
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    policy = AutoModelForCausalLM.from_pretrained(tmp_path / "m2").eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    before = dpo_loss(reference, reference, tokenizer, pairs, cfg.beta)
    after = dpo_loss(policy, reference, tokenizer, pairs, cfg.beta)
    assert before == pytest.approx(0.6931, abs=1e-3)
    assert after < before - 0.01, (before, after)
    changed = [
        k for k, v in reference.state_dict().items() if not torch.equal(v, policy.state_dict()[k])
    ]
    assert changed
    assert metrics["steps"] == 8 and metrics["pairs"] == 4
    header = (tmp_path / "log.csv").read_text().splitlines()[0]
    assert header == (
        "step,epoch,loss,learning_rate,grad_norm,rewards_chosen,rewards_rejected,"
        "rewards_accuracies,rewards_margins"
    )


def test_completion_head_gives_trls_fused_head_outputs_and_gradients(tiny_model_dir):
    from trl.trainer.utils import add_fused_lm_head

    from srlm.training.completion_loss import use_completion_head

    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (4, 14))
    labels = ids.clone()
    labels[:, :6] = -100  # a prompt
    labels[2, 11:] = -100  # padding
    results = []
    for install in (
        lambda m: add_fused_lm_head(m, outputs=("log_probs", "entropy", "mean_logits", "is_top1")),
        use_completion_head,
    ):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        install(model)
        out = model(
            input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, fused_lm_head=True
        )
        out.log_probs.sum().backward()
        results.append((out, {n: p.grad.clone() for n, p in model.named_parameters()}))
        plain = model(input_ids=ids).logits  # without fused_lm_head: the model's own forward
        assert plain.shape == (4, 14, model.config.vocab_size)
    (trl_out, trl_grads), (ours, our_grads) = results
    assert ours.log_probs.shape == trl_out.log_probs.shape == (4, 13)
    assert torch.equal(ours.log_probs == 0, trl_out.log_probs == 0)
    for field in ("log_probs", "entropy", "mean_logits"):
        torch.testing.assert_close(
            getattr(ours, field), getattr(trl_out, field), rtol=1e-5, atol=1e-5
        )
    assert torch.equal(ours.is_top1, trl_out.is_top1)
    for name, grad in trl_grads.items():
        torch.testing.assert_close(our_grads[name], grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("lora", [False, True])
def test_dpo_trains_like_trls_own_trainer(tiny_model_dir, tmp_path, monkeypatch, lora):
    import trl

    from srlm.core.params import DPOParams
    from srlm.training import trainers

    pairs = pl.DataFrame(
        {
            "prompt": ["Name a fruit.", "Say hello.", "What is 2+2?", "Pick a colour."],
            "chosen": ["An apple.", "Hello there!", "It is 4.", "Blue."],
            "rejected": ["A rock.", "Go away.", "It is 5.", "Loud."],
        }
    )
    # one batch an epoch: the stock trainer does not group pairs by length, so batches of
    # several would differ in order, not in arithmetic
    # no LoRA dropout: the two samplers leave the random stream in different states
    cfg = DPOParams(
        beta=0.1,
        epochs=3,
        learning_rate=2e-3,
        batch_size=4,
        max_length=128,
        precision="fp32",
        lora=LoraParams(enabled=lora, r=4, alpha=8, dropout=0.0),
    )
    ours = trainers.train_dpo(
        tiny_model_dir, pairs, cfg, tmp_path / "ours", log_csv=tmp_path / "ours.csv"
    )

    class StockDPOTrainer(trl.DPOTrainer):
        def _get_train_sampler(self, train_dataset=None):  # it cannot group DPO pairs
            self.args.train_sampling_strategy = "random"
            return super()._get_train_sampler(train_dataset)

    monkeypatch.setattr(trainers, "dpo_trainer_class", lambda: StockDPOTrainer)
    stock = trainers.train_dpo(
        tiny_model_dir, pairs, cfg, tmp_path / "stock", log_csv=tmp_path / "stock.csv"
    )
    assert ours["train_tokens"] == stock["train_tokens"] > 0
    ours_log = pl.read_csv(tmp_path / "ours.csv")
    stock_log = pl.read_csv(tmp_path / "stock.csv")
    assert ours_log.height == stock_log.height == 3
    # (not rewards_accuracies: at step 1 policy = reference and float noise picks the sign)
    for column in ("loss", "grad_norm", "rewards_chosen", "rewards_margins"):
        assert ours_log[column].to_list() == pytest.approx(
            stock_log[column].to_list(), rel=1e-3, abs=1e-5
        ), column
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "ours").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "stock").state_dict()
    assert_trained_alike(a, b, learning_rate=cfg.learning_rate, steps=3)


def test_dpo_batches_pairs_of_similar_length(tiny_model_dir, tmp_path):
    import datasets
    from transformers import AutoTokenizer
    from trl import DPOConfig as TRLDPOConfig

    from srlm.training.length_batches import pair_lengths
    from srlm.training.trainer_classes import dpo_trainer_class
    from srlm.training.trainers import dpo_records

    words = [" ".join(["word"] * n) for n in (3, 40, 9, 25, 1, 33, 14, 5)]
    pairs = pl.DataFrame(
        {"prompt": ["Say something."] * 8, "chosen": words, "rejected": ["No."] * 8}
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = dpo_trainer_class()(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=TRLDPOConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=2,
            use_cpu=True,
            report_to="none",
            train_sampling_strategy="group_by_length",
        ),
        train_dataset=datasets.Dataset.from_list(dpo_records(pairs)),
        processing_class=tokenizer,
    )
    lengths = pair_lengths(trainer.train_dataset)
    torch.manual_seed(0)
    order = list(trainer._get_train_sampler())
    assert sorted(order) == list(range(8))
    # 8 pairs fit one mega-batch: each batch of 2 holds neighbours in length order
    ranked = sorted(range(8), key=lambda i: -lengths[i])
    batches = [sorted(order[i : i + 2]) for i in range(0, 8, 2)]
    assert sorted(batches) == sorted(sorted(ranked[i : i + 2]) for i in range(0, 8, 2))


def test_length_buckets_shuffle_batches_of_similar_length():
    from srlm.training.length_batches import LengthBuckets

    lengths = [(i * 37) % 101 for i in range(1000)]
    sampler = LengthBuckets(lengths, batch_size=8, mega_batches=10)
    torch.manual_seed(0)
    first = list(sampler)
    assert sorted(first) == list(range(1000))
    batches = [first[i : i + 8] for i in range(0, 1000, 8)]
    spans = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(spans) / len(spans) < 20  # ~10 here; random batches of 8 span ~78
    means = [sum(lengths[i] for i in b) / len(b) for b in batches]
    descents = sum(a > b for a, b in zip(means, means[1:], strict=False))
    assert 30 < descents < 95  # batch order is random, not a long-to-short curriculum
    torch.manual_seed(0)
    assert list(sampler) == first  # seeded by torch's generator, as Trainer seeds it
    torch.manual_seed(1)
    assert list(sampler) != first
    short = LengthBuckets(list(range(10)), batch_size=4)
    assert sorted(short) == list(range(10))  # the short batch too
