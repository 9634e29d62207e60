import polars as pl
import pytest
import torch
from transformers import AutoModelForCausalLM

from srlm.config import LoraConfig, SFTConfig
from srlm.training import completion_loss, sft_records, train_sft


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
