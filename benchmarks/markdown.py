"""The Markdown report of one benchmark run: one table per question the issue asks."""

from __future__ import annotations

from typing import Any

from benchmarks.targets import TARGET, WORKLOADS


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A GitHub Markdown table; None shows as an en dash."""

    def cell(value: Any) -> str:
        """One cell's text."""
        return "–" if value is None else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def machine_line(m: dict[str, Any]) -> str:
    """One sentence for a side benchmark's header: date, CPU, cores, its relevant flags, git, load."""
    flags = ", ".join(m["cpu_features"]["flags"]) or "none of note"
    return (
        f"{m['date']}, {m['cpu_model']}, {m['cores']} cores, CPU flags {flags}, git {m['git']}, "
        f"load {m['load_average_at_start']}."
    )


def _machine(results: dict[str, Any]) -> list[str]:
    """Heading, machine line and a warning when the machine was busy."""
    m = results["machine"]
    v = m["versions"]
    lines = [
        f"# Benchmark results ({m['mode']} mode)",
        "",
        f"{m['date']} · {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GiB RAM · "
        f"TensorFlow {v['tensorflow']}, Keras {v.get('keras', '?')}, Python {v['python']}, "
        f"OpenCV {v['opencv']} · git {m['git'] or '?'} · {m['os']}",
        "",
        *_cpu_line(m),
        f"Model: `{results['settings']['model_dir']}` version {results['settings']['model_version']} "
        f"(tta: {results['settings']['tta']}). Load average at start: {m['load_average_at_start']}.",
        "",
    ]
    if m["load_average_at_start"][0] > 0.5 * m["cores"]:
        lines += [
            "> **Warning:** other processes were using the CPU when this run started; "
            "these numbers are not representative of the machine.",
            "",
        ]
    if m["mode"] == "quick":
        lines += ["> Quick mode: short windows and few repetitions, to check that everything runs.", ""]
    return lines


def _cpu_line(m: dict[str, Any]) -> list[str]:
    """CPU flags that decide the runtime's speed, and the OpenVINO version (older results have neither)."""
    features = m.get("cpu_features")
    if not features:
        return []
    bf16 = "native bf16: yes" if features["native_bf16"] else "native bf16: **no** (bf16 is emulated)"
    openvino = m["versions"].get("openvino", "not installed").split("-")[0]
    return [f"CPU flags: {', '.join(features['flags']) or 'none'} ({bf16}) · OpenVINO {openvino}", ""]


def _runtimes(rt: dict[str, Any]) -> list[str]:
    """Images/s per backend x precision and batch size, with load time and peak memory of each."""
    sizes = sorted({r["batch_size"] for v in rt["runtimes"].values() for r in v.get("rows", [])})
    rows = []
    for name, v in rt["runtimes"].items():
        if "error" in v:
            rows.append(
                [f"`{name}`", *([None] * len(sizes)), None, None, f"not available: {v['error'][:120]}"]
            )
            continue
        rate = {r["batch_size"]: r["images_per_s"] for r in v["rows"]}
        rows.append([f"`{name}`", *(rate.get(b) for b in sizes), v["load_s"], v["peak_rss_mb"], ""])
    header = ["backend/precision", *(f"batch {b}" for b in sizes), "load s", "peak RSS MiB", "note"]
    return [
        "## Raw ceiling per runtime (images/s, in-process, one process per runtime on every core)",
        "",
        *table(header, rows),
        f"Default here (INFERENCE_BACKEND=auto, INFERENCE_PRECISION=auto): `{rt['default']}`, ceiling "
        f"**{rt['default_ceiling_images_per_s']} images/s**. Load s: settings to first answer, conversion "
        "cache warm; peak RSS includes the timing batches.",
        "",
    ]


def _accuracy(acc: dict[str, Any]) -> list[str]:
    """Test accuracy of each runtime against the TensorFlow signature on the same crops."""
    rows = [
        [
            f"`{r['runtime']}`",
            f"{100 * r['accuracy']:.2f}%",
            r["points_vs_reference"],
            f"{100 * r['agreement_with_reference']:.2f}%",
            r["max_probability_diff"],
        ]
        for r in acc["rows"]
    ]
    header = [
        "backend/precision",
        "test accuracy",
        "points vs TF f32",
        "same label as TF f32",
        "max prob diff",
    ]
    return [
        f"## Accuracy per runtime ({acc['images']} test crops, model input straight from the files)",
        "",
        *table(header, rows),
    ]


def _raw(raw: dict[str, Any]) -> list[str]:
    """Images/s per caller and batch size, the ceiling and the flip-averaging cost."""
    sizes = sorted({r["batch_size"] for r in raw["rows"]})
    rate = {(r["caller"], r["batch_size"]): r["images_per_s"] for r in raw["rows"]}
    callers = dict.fromkeys(r["caller"] for r in raw["rows"])
    rows = [[caller] + [rate.get((caller, b)) for b in sizes] for caller in callers]
    cost = ", ".join(f"{v}x at batch {b}" for b, v in raw["single_pass_speedup_over_signature"].items())
    return [
        "## Raw model, in-process (images/s)",
        "",
        *table(["caller"] + [f"batch {b}" for b in sizes], rows),
        f"Ceiling (serving signature): **{raw['ceiling_images_per_s']} images/s** at batch "
        f"{raw['ceiling_batch_size']}. `signature` runs the shipped tta ({raw['tta']}); one pass of "
        f"`model.keras` is faster by {cost}.",
        *(
            [
                "One member network alone (what a single-network model costs) is faster than the "
                "signature by "
                + ", ".join(f"{v}x at batch {b}" for b, v in raw["one_member_speedup_over_signature"].items())
                + "."
            ]
            if "one_member_speedup_over_signature" in raw
            else []
        ),
        "",
    ]


def _references(raw: dict[str, Any], references: list[dict[str, Any]]) -> list[str]:
    """Other models' signature ceilings on the same crops, and this model's speed-up over each."""
    if not references:
        return []
    rows = [
        [
            f"version {ref['version']} (`{ref['model_dir']}`, tta {ref['tta']})",
            ref["ceiling_images_per_s"],
            ref["ceiling_batch_size"],
            round(raw["ceiling_images_per_s"] / ref["ceiling_images_per_s"], 2),
        ]
        for ref in references
    ]
    return [
        "Reference models, timed the same way on the same crops right after it:",
        "",
        *table(["model", "signature ceiling (images/s)", "at batch", "this model's speed-up"], rows),
        "",
    ]


def _serving(serving: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    """Per-workload load results, then the ratios and the targets."""
    s = serving["settings"]
    lines = [
        "## Service under load (gunicorn on loopback)",
        "",
        f"WORKERS={s['workers'] or 'auto'} (workers started: "
        + ", ".join(f"{name} {p['workers']}" for name, p in serving.get("processes", {}).items())
        + f") x {s['threads']} threads; `service` runs the default runtime "
        f"(`{s.get('default_runtime') or '?'}`); {s['duration_s']} s measured after "
        f"{s['warmup_s']} s warm-up per run; batching off = {s['batching_off']}.",
        "",
    ]
    header = [
        "config",
        "conc.",
        "req/s",
        "images/s",
        "faces/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "mean batch",
        "server CPU ms/req",
    ]
    for workload, title in WORKLOADS.items():
        rows = [
            [
                r["config"],
                r["concurrency"],
                r["requests_per_s"],
                r["images_per_s"],
                r["faces_per_s"],
                r["latency_ms"]["p50"],
                r["latency_ms"]["p95"],
                r["latency_ms"]["p99"],
                r["errors"],
                r["mean_batch_size"],
                round(1000 * r["server_cpu_s"] / r["ok"], 1) if r["ok"] else None,
            ]
            for r in serving["rows"]
            if r["workload"] == workload
        ]
        if rows:
            lines += [f"### {title}", "", *table(header, rows)]
    ratios = [
        [
            WORKLOADS[r["workload"]][:3],
            r["concurrency"],
            r["service_to_ceiling"],
            r["batching_on_to_off"],
            r["service_to_naive"],
            r.get("service_to_tensorflow"),
            r.get("service_to_detector_native"),
            r.get("service_to_streams2"),
        ]
        for r in derived["ratios"]
    ]
    lines += [
        "### Ratios (images/s)",
        "",
        *table(
            [
                "workload",
                "conc.",
                "service / raw ceiling",
                "batching on / off",
                "service / naive",
                "service / TF service",
                "service / native-detector service",
                "service / 2-stream service",
            ],
            ratios,
        ),
    ]
    titled = [("", derived["targets"])]
    titled += [(f", `{name}`", t) for name, t in (derived.get("variant_targets") or {}).items()]
    for suffix, targets in titled:
        if not targets:
            continue
        rows = [
            [name, t["value"], t["goal"], {True: "yes", False: "**no**"}.get(t["met"])]
            for name, t in targets.items()
        ]
        lines += [
            f"### Targets: workload (a) at concurrency {TARGET['concurrency']}{suffix}",
            "",
            *table(["measure", "value", "goal", "met"], rows),
        ]
    if len(titled) > 1:
        lines += ["Each configuration is checked against its own runtime's ceiling.", ""]
    return lines


def _processes(serving: dict[str, Any]) -> list[str]:
    """Start-up time and memory per configuration."""
    rows = []
    for name, p in serving["processes"].items():
        ready, after = p["memory_ready"]["workers"], p["memory_after_load"]["workers"]
        rows.append(
            [
                name,
                p["ready_s"],
                p["workers"],
                " / ".join(str(w["rss_mb"]) for w in ready),
                " / ".join(str(w["rss_mb"]) for w in after),
                " / ".join(str(w["uss_mb"]) for w in after),
                p["memory_ready"]["master"]["rss_mb"],
            ]
        )
    return [
        "## Start-up and memory",
        "",
        *table(
            [
                "config",
                "start to ready s",
                "workers",
                "worker RSS MiB ready",
                "after load",
                "worker USS MiB after load",
                "master RSS MiB",
            ],
            rows,
        ),
    ]


def _stages(stages: dict[str, Any]) -> list[str]:
    """Milliseconds per stage for each workload."""
    names = ["decode", "detect", "crop_resize", "model", "json", "sum", "flask_request"]
    rows = [[n] + [stages[w].get(n) for w in WORKLOADS if w in stages] for n in [*names, "faces"]]
    return [
        "## Per-stage cost of one image (ms, in-process, median)",
        "",
        *table(["stage"] + [WORKLOADS[w] for w in WORKLOADS if w in stages], rows),
        "`flask_request` is one whole POST /predict through Flask's test client: its excess over `sum` "
        "is multipart parsing, Flask and the read stage (`model`: the classify stage, batcher hop included).",
        "",
    ]


def _hotspots(profiles: list[dict[str, Any]]) -> list[str]:
    """py-spy categories (all running threads, and GIL holder only) and the GIL holder's hottest frames."""
    lines = [
        "## Where a worker's time goes (py-spy)",
        "",
        "`threads`: every running or runnable thread; `gil`: only the thread holding the GIL, i.e. "
        "Python work that cannot overlap (TensorFlow and OpenCV release the GIL while they compute).",
        "",
    ]
    for h in profiles:
        threads, gil = h["threads"], h["gil"]
        kinds = list(dict.fromkeys([*threads["share_of_busy"], *gil["share_of_busy"]]))
        rows = [
            [k, f"{threads['share_of_busy'].get(k, 0):.0%}", f"{gil['share_of_busy'].get(k, 0):.0%}"]
            for k in kinds
        ]
        frames = [[f"`{f['frame']}`", f"{f['share_of_busy']:.0%}"] for f in gil["top_frames"]]
        lines += [
            f"### {WORKLOADS[h['workload']]}, {h['config']}, concurrency {h['concurrency']}, "
            f"{h['seconds']} s",
            "",
            f"{threads['busy_samples']} busy thread samples ({threads['waiting_samples']} waiting), "
            f"{gil['busy_samples']} GIL samples.",
            "",
            *table(["category", "threads", "gil"], rows),
            *table(["innermost frame (GIL holder)", "share"], frames),
        ]
    return lines


def _training(t: dict[str, Any]) -> list[str]:
    """Pipeline vs train step, and seconds per epoch."""
    p, s, e = t["pipeline"], t["train_step"], t["epoch"]
    rows = [
        ["tf.data, first pass (JPEG decode), images/s", p["first_pass_images_per_s"]],
        ["tf.data, cached + augmentation, images/s", p["cached_augmented_images_per_s"]],
        ["train step alone (synthetic tensors), images/s", s["images_per_s"]],
        ["train step, ms", s["ms_per_step"]],
        ["pipeline / step ratio (goal >= 3)", t["pipeline_to_step_ratio"]],
        ["train step on the real pipeline, ms", e["ms_per_step_real_pipeline"]],
        ["seconds per epoch (extrapolated)", e["seconds_per_epoch"]],
    ]
    return [
        f"## Training (`{t['config']}`, batch {t['batch_size']}, augment {', '.join(t['augment'])})",
        "",
        *table(["measure", "value"], rows),
        f"Seconds per epoch: {e['method']}.",
        "",
    ]


def _video(video: dict[str, Any]) -> list[str]:
    """Sampled frames per second of the video CLI and endpoint."""
    clip = video["clip"]
    rows = [
        [
            name,
            f"{r['runtime']['backend']}/{r['runtime']['precision']}" if r.get("runtime") else None,
            r["frames_sampled"],
            r["tracks"],
            r["seconds"],
            f"**{r['frames_per_s']}**",
            r["video_seconds_per_s"],
        ]
        for name, r in (("CLI (analyze_file)", video["cli"]), ("POST /predict/video", video["endpoint"]))
    ]
    return [
        "## Video (sampled frames per second)",
        "",
        f"{clip['seconds']:g} s clip, {clip['size'][0]}x{clip['size'][1]} at {clip['fps']:g} frames/s, "
        f"{clip['faces']} moving faces, {clip['codec']}; sampled at {clip['sample_fps']:g} frames/s; "
        f"median of {video['repeats']} run(s).",
        "",
        *table(
            ["path", "runtime", "frames sampled", "tracks", "seconds", "sampled frames/s", "video s per s"],
            rows,
        ),
    ]


def render(results: dict[str, Any]) -> str:
    """The whole report."""
    lines = _machine(results)
    if results.get("runtimes"):
        lines += _runtimes(results["runtimes"])
    if results.get("raw_model"):
        lines += _raw(results["raw_model"]) + _references(
            results["raw_model"], results.get("raw_references", [])
        )
    if results.get("accuracy"):
        lines += _accuracy(results["accuracy"])
    if results.get("serving"):
        lines += _serving(results["serving"], results["derived"]) + _processes(results["serving"])
    if results.get("stages"):
        lines += _stages(results["stages"])
    if results.get("hotspots"):
        lines += _hotspots(results["hotspots"])
    if results.get("training"):
        lines += _training(results["training"])
    if results.get("video"):
        lines += _video(results["video"])
    for section, message in (results.get("errors") or {}).items():
        lines += [f"> **{section} failed:** {message.splitlines()[0] if message else ''}", ""]
    lines.append(f"Total benchmark time: {results.get('elapsed_s')} s.")
    return "\n".join(lines) + "\n"
