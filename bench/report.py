"""BENCHMARKS.md from the suite's results (bench/results.json): `render(results)`."""

from __future__ import annotations

from history import latest_per_kind

TARGET_TOKENS = 250  # issue 14: generation, SFT and DPO training tokens/s on 2 cores
TARGET_FINGERPRINT_MS = 100  # issue 21: a stage fingerprints a model from its record
TARGET_OVER_TRL = {"sft": 3, "dpo": 2}  # issue 25: our training against TRL's stock trainers
TARGET_VIEW_MS = 2000  # issue 23: a page of the data view opens at paper scale


def default_precision(row: dict) -> str:
    """The precision of an engines row recorded before rows named it: the plain loop was
    always fp32, the rest forced bf16."""
    return "fp32" if row["engine"] == "plain" or row["engine"].endswith("fp32") else "bf16"


def spread(value: dict, digits: int = 1) -> str:
    """`median [min-max]` of a `measure.summary`, or the one value when measured once."""
    if value["n"] == 1:
        return f"{value['median']:.{digits}f}"
    return f"{value['median']:.{digits}f} [{value['min']:.{digits}f}–{value['max']:.{digits}f}]"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def duration(results: dict) -> str:
    """How long the run took, and which part of the suite it was (`bench/suite.py --only`)."""
    took = f"{results['suite_s'] // 60} min {results['suite_s'] % 60} s"
    only = results.get("only")
    return f"{took} for {', '.join(only)} only" if only else took


def header(results: dict) -> list[str]:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    what = (
        f"a part of the suite ({', '.join(results['only'])}; the other sections are this "
        "CPU kind's previous runs) took "
        if results.get("only")
        else "the whole suite took "
    )
    return [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/suite.py`) on {m['date']} at commit `{m['commit']}`; "
        f"{what}{results['suite_s'] // 60} min {results['suite_s'] % 60} s. "
        "Do not edit by hand: rerun the suite. Each script in `bench/` runs alone too (its "
        "docstring says what it measures and how).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"AVX-512 {'yes' if m['avx512'] else 'no'} (bf16 "
        f"{'yes' if m.get('avx512_bf16') else 'no'}), AMX {'yes' if m['amx'] else 'no'}; "
        f"Python {m['python']}; {versions}.",
        "",
        "Figures are `median [min–max]` of the repeats (n given per table); every workload "
        "runs in its own process, one at a time, and peak memory is that process's own.",
        "",
    ]


def engines_section(rows: list[dict]) -> tuple[list[str], dict]:
    by = {r["engine"]: r for r in rows}
    plain = by.get("plain", {}).get("answer_tok_s", {}).get("median")
    judging = next((r for r in rows if "judged" in r), {})
    judged_pairs = judging.get("judged", 12)
    per_prompt = judging.get("per_prompt", 1)  # runs before 2026-12-07 judged 1 reply a prompt
    lines = [
        "## Generation and judging",
        "",
        "`bench/engines.py`: SmolLM2-135M (M1) in the pipeline's precision (`auto`: bf16 where "
        "the CPU has it, else fp32; runs before 2026-12-07 forced bf16); answers: 32 real oasst "
        "prompts (≤ 400 characters) × up to 64 new tokens, T 0.7, batch 32 (transformers); "
        f"judge: {judged_pairs} other (prompt, human reply ≤ 800 characters) pairs in the "
        f"paper's judge prompt, {per_prompt} a prompt (the stage judges 4 candidates a "
        "prompt; the rubric, ~270 tokens, is the prefix all share, the replies of a prompt "
        "share the question too), 3 samples each, stopped at the score; every pass new "
        "prompts. Tokens/s are whole-run: new tokens "
        "over the wall time of the call, prompt processing included. Whole run: start-up + "
        "one pass of each workload, what a stage pays.",
        "",
        "| engine | precision | start-up s | answers tok/s | × plain loop | judged replies/s "
        "| parsed | whole run s | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        answers = r["answer_tok_s"]
        ratio = f"{answers['median'] / plain:.1f}×" if plain else "—"
        judged = spread(r["judged_per_s"], 2) if "judged_per_s" in r else "—"
        lines.append(
            f"| {r['engine']} | {r.get('precision', default_precision(r))} | {r['load_s']} | "
            f"{spread(answers)} | {ratio} | "
            f"{judged} | {r.get('parsed', '—')} | {r.get('whole_run_s', '—')} | "
            f"{r['peak_rss_mib']} |"
        )
    repeats = rows[-1]["answer_tok_s"]["n"]
    lines += [
        "",
        f"n = {repeats} passes of each workload after one warm-up (plain: "
        f"{rows[0]['answer_tok_s']['n']} passes over 3 prompts, fp32, `model.generate` "
        "one prompt at a time). `vllm-noprefix` is `vllm` with prefix caching off; "
        "`vllm-fullsort` is `vllm` with vLLM's own top-p, which sorts the vocabulary at every "
        "step (srlm/engines/vllm_top_p.py).",
        "",
    ]
    return lines, by


def training_section(rows: list[dict]) -> tuple[list[str], dict]:
    by = {r["run"]: r for r in rows}
    lines = [
        "## Training",
        "",
        "`bench/training.py`: the stages' own `train_sft` / `train_dpo` on the default "
        "profile's real data (SFT: M0 on 32 of its 64 seed examples, IFT + EFT; DPO: M2 on "
        "`pairs@m3`), default params but precision and LoRA. Tokens: every prompt + "
        "answer token of the epoch (DPO: chosen and rejected sequences, reference log-probs "
        "included in the time). `trl` is TRL's stock SFTTrainer / DPOTrainer in bf16 with "
        "its own batching (DPO: random pairs; SFT: its small-set length grouping), so its "
        "batches, and with them its losses, differ from ours; on the same batches the losses "
        "agree (tests/test_training.py compares losses, gradients and weights with TRL's; "
        "docs/pipeline.md, *Measured*).",
        "",
        "| run | examples | steps | tokens | tokens/s | × TRL stock | mean loss | last loss "
        "| peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        kind = r["run"].split(":")[0]
        stock = by.get(f"{kind}:trl", {}).get("tokens_per_s")
        ratio = f"{r['tokens_per_s'] / stock:.2f}×" if stock else "—"
        lines.append(
            f"| {r['run']} | {r['examples']} | {r['steps']} | {r['train_tokens']} | "
            f"{r['tokens_per_s']} | {ratio} | {r['train_loss']} | {r['last_loss']} | "
            f"{r['peak_rss_mib']} |"
        )
    lines += ["", "n = 1 run each (a training run is minutes; the suite keeps to 15).", ""]
    return lines, by


def data_sections(results: dict) -> list[str]:
    lines = []
    if "datasets" in results:
        d = results["datasets"]
        lines += [
            "## Datasets at scale",
            "",
            f"`bench/diff_pairs.py`: two pairs artifacts of {d['rows']:,} rows a side "
            f"({d['parquet_mib']} MiB of parquet, {d['frames_mib']} MiB as polars frames), "
            "the CLI run as a user runs it (process start included).",
            "",
            "| command | wall s | peak MiB |",
            "|---|---|---|",
            f"| `srlm diff old new --json` | {spread(d['diff_s'], 2)} | "
            f"{spread(d['diff_peak_mib'], 0)} |",
            f"| `srlm validate new` | {spread(d['validate_s'], 2)} | "
            f"{spread(d['validate_peak_mib'], 0)} |",
            "",
        ]
    if "filter" in results or "prompts" in results:
        lines += ["## Self-instruct at paper scale", ""]
    if "filter" in results:
        f = results["filter"]
        lines += [
            f"`bench/selfinstruct_filter.py`: the exact near-duplicate rule (ROUGE-L F1 ≥ 0.7) "
            f"for one candidate against {f['known']:,} known real prompts: pure-Python LCS "
            f"{f['python_s_per_candidate']} s ({f['python_us_per_pair']} µs a pair), "
            f"rapidfuzz with a length bound {f['rapidfuzz_ms_per_candidate']} ms "
            f"({f['speedup']}×), same decisions.",
            "",
        ]
    if "prompts" in results:
        p = results["prompts"]
        lines += [
            f"`bench/prompts_stage.py`: the prompts stage's own work at the paper profile's "
            f"sizes with an instant engine: {p['n_generate']:,} generations in "
            f"{p['engine_calls']} engine calls (rounds of {p['round_size']}), {p['kept']:,} "
            f"kept, {p['near_duplicates']:,} near-duplicates, known prompts growing to "
            f"{p['known_at_end']:,}: **{p['seconds']} s**, of which the near-duplicate rule "
            f"{p['near_duplicate_rule_s']} s ({spread(p['rule_ms_per_check'], 2)} ms a "
            f"check); peak {p['peak_rss_mib']} MiB.",
            "",
        ]
    if "model_fingerprint" in results:
        m = results["model_fingerprint"]
        lines += [
            "## Model identity",
            "",
            f"`bench/model_fingerprint.py`: a sparse {m['model_gib']:g} GiB model folder "
            f"({m['files']} files) with its `_model_manifest.json`; a stage fingerprints it in "
            f"{spread(m['with_record_ms'], 2)} ms (n = {m['with_record_ms']['n']}). Reading "
            f"every byte, as every stage did before records: {spread(m['full_read_s_per_gib'], 2)}"
            f" s per GiB (a {m['slice_gib']:g} GiB slice, n = {m['full_read_s_per_gib']['n']}), "
            f"~{m['full_read_extrapolated_s']} s for the folder.",
            "",
        ]
    if "view" in results:
        v = results["view"]
        browser = v["browser"]
        opened = (
            f"In headless Chromium the largest page loads in {spread(browser['load_ms'], 0)} ms "
            f"(navigation to load event, n = {browser['load_ms']['n']}) and a filter applies "
            f"in {spread(browser['filter_ms'], 0)} ms."
            if isinstance(browser, dict)
            else f"Not opened in a browser: {browser}."
        )
        lines += [
            "## Data view",
            "",
            f"`bench/view_pages.py`: `srlm view` of one iteration at the paper's scale "
            f"({v['prompts']:,} prompts, {v['candidates']:,} candidates, "
            f"{v['judge_samples']:,} judge samples): **{v['seconds']} s**, peak "
            f"{v['peak_rss_mib']} MiB; {v['pages']} pages of {v['page_kib_median']} KiB "
            f"(largest {v['page_kib_max']} KiB) and a {v['flags_js_kib']} KiB flags.js that "
            f"every page loads for the filters across pages. {opened}",
            "",
        ]
    if "repro" in results:
        r = results["repro"]
        text = r.get("skipped") or f"{spread(r['seconds'], 2)} s (n = {r['seconds']['n']})"
        lines += ["## DVC", "", f"`dvc repro` with nothing changed: {text}.", ""]
    return lines


def target_rows(
    engines: dict, training: dict, identity: dict | None = None, view: dict | None = None
) -> list[tuple[str, str, str, bool]]:
    """(target, measured, baseline of the same run, met) for every target the run measured."""
    rows = []
    vllm, plain, hf = engines.get("vllm"), engines.get("plain"), engines.get("transformers")
    if vllm:
        rate = vllm["answer_tok_s"]["median"]
        rows.append(
            (
                f"answers, default engine (vLLM-CPU), ≥ {TARGET_TOKENS} tok/s",
                f"{rate:.0f} tok/s",
                "—",
                rate >= TARGET_TOKENS,
            )
        )
        if plain:
            ratio = rate / plain["answer_tok_s"]["median"]
            rows.append(
                (
                    "answers ≥ 16× the plain loop",
                    f"{ratio:.1f}×",
                    f"plain {plain['answer_tok_s']['median']:.1f} tok/s",
                    ratio >= 16,
                )
            )
        if hf:
            ratio = vllm["judged_per_s"]["median"] / hf["judged_per_s"]["median"]
            for times, issue in ((2, ""), (3, "; issue 25")):
                rows.append(
                    (
                        f"judging ≥ {times}× the engine before (transformers{issue})",
                        f"{ratio:.1f}×",
                        f"{hf['judged_per_s']['median']:.2f} replies/s",
                        ratio >= times,
                    )
                )
    for kind in ("sft", "dpo"):
        ours, stock = training.get(f"{kind}:bf16"), training.get(f"{kind}:trl")
        if ours:
            rate = ours["tokens_per_s"]
            base = f"TRL stock {stock['tokens_per_s']} tok/s" if stock else "—"
            rows.append(
                (
                    f"{kind.upper()} bf16 ≥ {TARGET_TOKENS} training tok/s",
                    f"{rate} tok/s",
                    base,
                    rate >= TARGET_TOKENS,
                )
            )
            if stock:
                ratio, times = rate / stock["tokens_per_s"], TARGET_OVER_TRL[kind]
                rows.append(
                    (
                        f"{kind.upper()} bf16 ≥ {times}× TRL stock (issue 25)",
                        f"{ratio:.2f}×",
                        base,
                        ratio >= times,
                    )
                )
    if identity:
        ms = identity["with_record_ms"]["median"]
        rows.append(
            (
                f"model fingerprint from its record < {TARGET_FINGERPRINT_MS} ms "
                f"({identity['model_gib']:g} GiB model; issue 21)",
                f"{ms:.2f} ms",
                f"full read ~{identity['full_read_extrapolated_s']} s",
                ms < TARGET_FINGERPRINT_MS,
            )
        )
    if view and isinstance(view["browser"], dict):
        ms = view["browser"]["load_ms"]["median"]
        rows.append(
            (
                f"data view page opens < {TARGET_VIEW_MS / 1000:g} s "
                f"({view['candidates']:,} candidates; issue 23)",
                f"{ms / 1000:.2f} s",
                f"{view['page_kib_max']} KiB page",
                ms < TARGET_VIEW_MS,
            )
        )
    return rows


def targets(
    engines: dict, training: dict, identity: dict | None = None, view: dict | None = None
) -> list[str]:
    rows = target_rows(engines, training, identity, view)
    if not rows:
        return []
    return [
        "## Targets (issues 14, 21, 23, 25)",
        "",
        "| target | measured | baseline, same run | |",
        "|---|---|---|---|",
        *(f"| {name} | {measured} | {base} | {verdict(ok)} |" for name, measured, base, ok in rows),
        "",
        "The default `make repro` (≤ 15 min) is timed in docs/pipeline.md (*Measured*), not here.",
        "",
    ]


def render(results: dict) -> str:
    """The whole report as markdown."""
    engines_lines, engines = (
        engines_section(results["engines"]) if "engines" in results else ([], {})
    )
    training_lines, training = (
        training_section(results["training"]) if "training" in results else ([], {})
    )
    lines = [
        *header(results),
        *targets(engines, training, results.get("model_fingerprint"), results.get("view")),
        *engines_lines,
        *training_lines,
        *data_sections(results),
    ]
    return "\n".join(lines).rstrip() + "\n"


def render_runs(runs: list[dict]) -> str:
    """BENCHMARKS.md for every CPU kind measured: the machines, the targets side by side
    (one column a kind), then each kind's latest run in full (`render`, headings one down)."""
    latest = latest_per_kind(runs)
    kinds = list(latest)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/suite.py`): the latest run on each kind of CPU, side "
        f"by side; `bench/results.json` keeps every run ({len(runs)} so far) with its date and "
        "commit. Do not edit by hand: rerun the suite. Each script in `bench/` runs alone too "
        "(its docstring says what it measures and how).",
        "",
        "## Machines",
        "",
        "| CPU kind | latest run | commit | took |",
        "|---|---|---|---|",
    ]
    for kind, run in latest.items():
        m = run["machine"]
        lines.append(f"| {kind} | {m['date']} | `{m['commit']}` | {duration(run)} |")
    table: dict[str, dict[str, str]] = {}
    for kind, run in latest.items():
        engines = engines_section(run["engines"])[1] if "engines" in run else {}
        training = training_section(run["training"])[1] if "training" in run else {}
        rows = target_rows(engines, training, run.get("model_fingerprint"), run.get("view"))
        for name, measured, _, ok in rows:
            table.setdefault(name, {})[kind] = f"{measured} ({verdict(ok)})"
    if table:
        lines += [
            "",
            "## Targets on each machine",
            "",
            "| target | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        lines += [
            f"| {name} | " + " | ".join(row.get(k, "—") for k in kinds) + " |"
            for name, row in table.items()
        ]
    for kind, run in latest.items():
        body = render(run).splitlines()[2:]  # without the title
        lines += ["", f"## {kind}", ""]
        lines += [f"#{line}" if line.startswith("## ") else line for line in body]
    return "\n".join(lines).rstrip() + "\n"
