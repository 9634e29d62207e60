import polars as pl
import pytest
import torch
from transformers import AutoModelForCausalLM

from srlm.core.config import LoraConfig, SFTConfig
from srlm.training.completion_loss import completion_loss
from srlm.training.trainers import sft_records, train_sft


def seed_frames():
    ift = pl.DataFrame({"example_id": ["i1", "i2"], "prompt": ["Say hi.", "Count to three."],
                        "response": ["Hi!", "One, two, three."], "source": ["t", "t"]})
    eft = pl.DataFrame({"judge_input": ["Judge: is 'Hi!' good?"] * 2,
                        "judge_target": ["Short and fine.\nScore: 4", "Off topic.\nScore: 1"]})
    return ift, eft


def test_sft_records_are_prompt_completion_chats():
    ift, eft = seed_frames()
    records = sft_records(ift, eft)
    assert len(records) == 4
    assert records[0] == {"prompt": [{"role": "user", "content": "Say hi."}],
                          "completion": [{"role": "assistant", "content": "Hi!"}]}
    assert records[-1]["completion"][0]["content"].endswith("Score: 1")


def test_completion_loss_matches_the_models_own_loss(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    ids = torch.randint(0, 1000, (2, 12))
    labels = ids.clone()
    labels[:, :7] = -100  # prompt positions carry no loss
    labels[1, 10:] = -100  # padding
    expected = model(input_ids=ids, labels=labels).loss
    got = completion_loss(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                                  "labels": labels})
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("lora", [False, True])
def test_sft_trains_and_saves_a_plain_model(tiny_model_dir, tmp_path, lora):
    ift, eft = seed_frames()
    cfg = SFTConfig(epochs=3, learning_rate=5e-3, batch_size=2, precision="fp32",
                    lora=LoraConfig(enabled=lora, r=4, alpha=8))
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
    prompt_ids = tokenizer.apply_chat_template(user, add_generation_prompt=True,
                                               return_dict=True)["input_ids"]
    full = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": answer}],
                                         return_dict=True)["input_ids"]
    ids = torch.tensor([full])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    targets = ids[0, 1:]
    logps = torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0]
    return logps[len(prompt_ids) - 1:].sum().item()


def dpo_loss(policy, reference, tokenizer, pairs, beta):
    """Mean DPO loss of `policy` against `reference` on the pairs (ln 2 when they are equal)."""
    losses = []
    for prompt, chosen, rejected in pairs.select("prompt", "chosen", "rejected").iter_rows():
        margin = (completion_logprob(policy, tokenizer, prompt, chosen)
                  - completion_logprob(reference, tokenizer, prompt, chosen)
                  - completion_logprob(policy, tokenizer, prompt, rejected)
                  + completion_logprob(reference, tokenizer, prompt, rejected))
        losses.append(-torch.nn.functional.logsigmoid(torch.tensor(beta * margin)).item())
    return sum(losses) / len(losses)


def test_dpo_really_trains(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from srlm.core.config import DPOConfig
    from srlm.training.trainers import train_dpo

    pairs = pl.DataFrame({
        "prompt_id": ["a", "b", "c", "d"],
        "prompt": ["Name a fruit.", "Say hello.", "What is 2+2?", "Pick a colour."],
        "chosen": ["An apple.", "Hello there!", "It is 4.", "Blue."],
        "rejected": ["A rock.", "Go away.", "It is 5.", "Loud."],
        "chosen_score": [5.0, 4.0, 5.0, 4.0], "rejected_score": [1.0, 1.0, 2.0, 2.0],
        "margin": [4.0, 3.0, 3.0, 2.0],
    })
    cfg = DPOConfig(beta=0.1, epochs=4, learning_rate=2e-3, batch_size=2, max_length=128,
                    precision="fp32")
    metrics = train_dpo(tiny_model_dir, pairs, cfg, tmp_path / "m2", log_csv=tmp_path / "log.csv")
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    policy = AutoModelForCausalLM.from_pretrained(tmp_path / "m2").eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    before = dpo_loss(reference, reference, tokenizer, pairs, cfg.beta)
    after = dpo_loss(policy, reference, tokenizer, pairs, cfg.beta)
    assert before == pytest.approx(0.6931, abs=1e-3)
    assert after < before - 0.01, (before, after)
    changed = [k for k, v in reference.state_dict().items()
               if not torch.equal(v, policy.state_dict()[k])]
    assert changed
    assert metrics["steps"] == 8 and metrics["pairs"] == 4
    header = (tmp_path / "log.csv").read_text().splitlines()[0]
    assert header == ("step,epoch,loss,learning_rate,grad_norm,rewards_chosen,rewards_rejected,"
                      "rewards_accuracies,rewards_margins")
