#!/usr/bin/env python3
"""Build dropnet's example data under examples/generated/ (run through make-examples.sh).

Python 3 standard library plus the ffmpeg/ffprobe command-line tools. Every output is made by one
recorded recipe (the exact commands plus the hashes of their inputs); a stamp file keeps that recipe
so a second run skips everything whose recipe did not change. All randomness comes from seeded
random.Random instances, and encoders run single-threaded, so the same inputs give the same files.

See examples/README.md for what is produced and why.
"""

import argparse
import concurrent.futures
import fcntl
import hashlib
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rcc_extract import RccBundle

EXAMPLES_DIR = Path(__file__).resolve().parent
GENERATED_DIR = EXAMPLES_DIR / "generated"
STAMP_DIR = GENERATED_DIR / ".stamps"

GCOMPRIS_BUNDLE = Path("/usr/share/gcompris-qt/rcc/categorization.rcc")
GCOMPRIS_IMAGES = "gcompris/src/activities/categorization/resource/images"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")

# Phones record 30 fps; the drop-folder movies use it exactly so frame numbers map to times simply.
FRAME_RATE = 30
# Small square frames keep CI fast; the daemon resizes to 224x224 anyway.
SQUARE_SIZE = (360, 360)
# Portrait clips are shown 360 wide, 480 high (3:4, like a phone held upright).
PORTRAIT_SIZE = (360, 480)
# Frames blended into one motion-blurred frame during a whip pan (5 frames = 1/6 s of motion).
WHIP_BLEND_FRAMES = 5
# Frames over which a whip pan accelerates away from (or settles onto) a photo.
WHIP_FRAMES = 6
# Held-out photos are re-encoded as JPEG no larger than this on their longest side.
HELDOUT_MAX_SIDE = 512


@dataclass
class Movie:
    """One movie of the drop folder: which photos it shows, in order, and how it is encoded."""

    path: str  # relative to generated/
    photos: list
    codec: str = "h264"  # "h264" or "hevc"
    portrait: bool = False  # stored rotated 90 degrees with a display-rotation tag
    seconds_per_photo: tuple = (1.5, 2.5)
    whip_after: tuple = (1,)  # whip-pan (motion-blurred) transitions after these photo indices


@dataclass
class PhotoClass:
    """A class of the example data set: its label, gcompris folder, movies and held-out photos."""

    label: str
    folder: str
    movies: list
    heldout: list
    photos: dict = field(default_factory=dict)  # name -> credit, filled from the bundle README


# The photo choice is explicit so that held-out photos can never leak into a movie.
# windmill5 is GPLv2+ (every other photo is public domain or CC0), so it is never used;
# windmill6 is a modern wind turbine, left out to keep the class visually coherent.
CLASSES = [
    PhotoClass(
        label="fish",
        folder="fishes",
        movies=[
            Movie(
                "drop/fish.mov",
                ["fish1", "fish9", "fish4", "fish28", "fish25", "fish13", "fish8", "fish19"],
                seconds_per_photo=(1.3, 1.7),
                whip_after=(2, 5),
            )
        ],
        heldout=["fish6", "fish14", "fish22"],
    ),
    PhotoClass(
        label="monument",
        folder="monuments",
        movies=[
            Movie(
                "drop/monument.mov",
                [
                    "eiffelTower",
                    "colosseum",
                    "tajMahal",
                    "statueOfLiberty",
                    "greatPyramid",
                    "brandenburgGate",
                    "parthenon",
                    "operaHouse",
                ],
                seconds_per_photo=(1.3, 1.7),
                whip_after=(3,),
            )
        ],
        heldout=["arcDeTriomphe", "leaningTowerOfPisa", "usCapitol"],
    ),
    PhotoClass(
        label="tool",
        folder="tools",
        movies=[
            Movie("drop/tool/clip-1.mov", ["hammer5", "plier1", "scissors1", "screwDriver1"], whip_after=(1,)),
            Movie(
                "drop/tool/clip-2.mov",
                ["wrench", "measuringTape1", "hammer4", "scissors3"],
                codec="hevc",
                whip_after=(2,),
            ),
            Movie(
                "drop/tool/clip-3.mov",
                ["multimeter1", "spray", "screwDriver2", "plier2"],
                portrait=True,
                whip_after=(0,),
            ),
        ],
        heldout=["hammer8", "plier4", "sideCutter1"],
    ),
    PhotoClass(
        label="windmill",
        folder="renewable",
        movies=[
            Movie(
                "drop/windmill.mov",
                [
                    "windmill",
                    "windmill1",
                    "windmill3",
                    "windmill4",
                    "windmill7",
                    "windmill8",
                    "windmill12",
                    "windmill13",
                ],
                seconds_per_photo=(1.3, 1.6),
                whip_after=(4,),
            )
        ],
        heldout=["windmill2", "windmill9", "windmill15"],
    ),
]

# A short portrait clip for the rotation test, made from a monument photo used nowhere else.
ROTATION_MOVIE = Movie("rotation/rotated.mov", ["burj"], portrait=True, seconds_per_photo=(2.0, 2.0), whip_after=())
ROTATION_PHOTO_CLASS = "monument"
ROTATION_REFERENCE_STEP = 10  # keep every 10th decoded frame as an upright reference

# The --long benchmark movie: a 10 s 1080p clip looped 60 times (10 minutes), never made by default.
LONG_SIZE = (1920, 1080)
LONG_LOOPS = 60


class BuildError(Exception):
    """A step failed; the message says what happened and what to do."""


# ----------------------------------------------------------------------------------------------
# Recipes and stamps: skip a step when its outputs exist and its recipe is unchanged.


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recipe_key(commands, inputs):
    """Hash of the commands (relative paths only) and the content of every input file."""
    description = {"commands": commands, "inputs": {str(p): file_digest(GENERATED_DIR / p) for p in inputs}}
    description["inputs"].update({str(p): file_digest(p) for p in inputs if Path(p).is_absolute()})
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def stamp_path(output):
    return STAMP_DIR / (output.replace("/", "__") + ".key")


def is_fresh(outputs, key):
    if not all((GENERATED_DIR / output).exists() for output in outputs):
        return False
    stamp = stamp_path(outputs[0])
    return stamp.exists() and stamp.read_text() == key


def mark_fresh(outputs, key):
    STAMP_DIR.mkdir(parents=True, exist_ok=True)
    stamp_path(outputs[0]).write_text(key)


def run_tool(command):
    """Run ffmpeg/ffprobe in generated/ quietly; return its stdout bytes, or raise with its stderr."""
    result = subprocess.run(command, cwd=GENERATED_DIR, capture_output=True, check=False)
    if result.returncode != 0:
        # Filter graphs are long; show each argument's start, enough to recognise the step.
        shown = " ".join(argument if len(argument) < 120 else argument[:100] + "..." for argument in command)
        raise BuildError(
            f"command failed (exit {result.returncode}): {shown}\n{result.stderr.decode(errors='replace').strip()}\n"
            "The tool's own message is above; examples/README.md lists the Debian packages needed."
        )
    return result.stdout


def ffmpeg(*arguments):
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments]


# ----------------------------------------------------------------------------------------------
# Source photos from the gcompris bundle.


def parse_credits(readme_text):
    """Parse a gcompris images README: blocks of Copyright/Source/License/Files lines."""
    credits = {}
    for block in re.split(r"\n\s*\n", readme_text):
        fields = {}
        files = []
        in_files = False
        for line in block.splitlines():
            line = line.strip()
            match = re.match(r"^(Copyright|Source|License|Files):\s*(.*)$", line)
            if match:
                in_files = match.group(1) == "Files"
                if in_files:
                    files.extend(match.group(2).split())
                else:
                    fields[match.group(1).lower()] = match.group(2)
            elif in_files and line:
                files.extend(line.split())
        for name in files:
            credits[Path(name).stem] = fields
    return credits


def needed_photos(photo_class):
    names = [name for movie in photo_class.movies for name in movie.photos] + photo_class.heldout
    if photo_class.label == ROTATION_PHOTO_CLASS:
        names += ROTATION_MOVIE.photos
    return names


def extract_photos():
    """Write photos/LABEL/NAME.webp for every photo used, and photos/CREDITS.txt."""
    bundle_digest = file_digest(GCOMPRIS_BUNDLE)
    outputs = ["photos/CREDITS.txt"] + [f"photos/{c.label}/README.gcompris" for c in CLASSES] + [
        f"photos/{c.label}/{name}.webp" for c in CLASSES for name in needed_photos(c)
    ]
    key = hashlib.sha256(json.dumps([bundle_digest, outputs, [c.folder for c in CLASSES]]).encode()).hexdigest()
    # Credits are needed later for the summary even when nothing is extracted.
    bundle = None
    if not is_fresh(outputs, key):
        stamp_path(outputs[0]).unlink(missing_ok=True)
        bundle = RccBundle(GCOMPRIS_BUNDLE)
    entries = bundle.entries() if bundle else None
    credits_lines = [
        "Photos used by dropnet's example data (examples/make-examples.sh).",
        f"Source: Debian package gcompris-qt-data, {GCOMPRIS_BUNDLE} ({GCOMPRIS_IMAGES}/<folder>/).",
        "Credits copied from the README next to the photos in that bundle.",
        "",
    ]
    for photo_class in CLASSES:
        readme_path = GENERATED_DIR / "photos" / photo_class.label / "README.gcompris"
        if entries is not None:
            readme_text = entries[f"{GCOMPRIS_IMAGES}/{photo_class.folder}/README"].decode("utf-8")
            readme_path.parent.mkdir(parents=True, exist_ok=True)
            readme_path.write_text(readme_text)
        credits = parse_credits(readme_path.read_text())
        roles = {}
        for movie in photo_class.movies:
            for name in movie.photos:
                roles[name] = f"in {movie.path}"
        for name in photo_class.heldout:
            roles[name] = f"held out: heldout/{photo_class.label}/{name}.jpg"
        if photo_class.label == ROTATION_PHOTO_CLASS:
            for name in ROTATION_MOVIE.photos:
                roles[name] = f"in {ROTATION_MOVIE.path}"
        for name in needed_photos(photo_class):
            credit = credits.get(name)
            if credit is None:
                raise BuildError(f"no credit for {photo_class.folder}/{name} in the bundle README; choose another photo")
            licence = credit.get("license", "")
            if licence not in ("Public Domain", "CC0-1.0"):
                raise BuildError(f"{photo_class.folder}/{name} is licensed {licence!r}; only PD/CC0 photos are used")
            photo_class.photos[name] = credit
            credits_lines.append(
                f"{photo_class.label}/{name}.webp  [{roles[name]}]\n"
                f"    Author: {credit.get('copyright', '?')}\n"
                f"    Source: {credit.get('source', '?')}\n"
                f"    License: {licence}"
            )
            if entries is not None:
                target = GENERATED_DIR / "photos" / photo_class.label / f"{name}.webp"
                target.write_bytes(entries[f"{GCOMPRIS_IMAGES}/{photo_class.folder}/{name}.webp"])
    if entries is not None:
        (GENERATED_DIR / "photos/CREDITS.txt").write_text("\n".join(credits_lines) + "\n")
        mark_fresh(outputs, key)
        return 1
    return 0


def photo_size(relative_path):
    """Width and height of a WebP or PNG file, read from its header (no decoder needed)."""
    data = (GENERATED_DIR / relative_path).read_bytes()[:30]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        # The first chunk is IHDR: big-endian width and height.
        return struct.unpack_from(">II", data, 16)
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise BuildError(f"{relative_path} is not a WebP or PNG file; delete examples/generated and run again")
    chunk = data[12:16]
    if chunk == b"VP8 ":
        # Lossy: 3-byte frame tag, 3-byte start code, then 14-bit width and height.
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        # Lossless: signature byte, then width-1 and height-1 in 14 bits each.
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        # Extended: 24-bit canvas width-1 and height-1.
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise BuildError(f"{relative_path}: unknown WebP chunk {chunk!r}")


# ----------------------------------------------------------------------------------------------
# Camera motion: one handheld "shot" of a photo, written as ffmpeg perspective-filter expressions.
#
# The photo is scaled (lanczos, once) to just cover the output frame and padded to the output
# aspect ratio; the perspective filter then maps a moving, rotating window of that canvas (the
# camera's view) onto the whole frame. All positions are in canvas pixels; `in` (ffmpeg's
# expression variable) is the frame number within the shot.


@dataclass
class Shot:
    photo: str  # path relative to generated/
    frame_count: int
    photo_width: int  # scaled photo, canvas pixels
    photo_height: int
    canvas_width: int
    canvas_height: int
    expressions: dict  # perspective x0..y3
    whip_out: bool


def smoothstep(variable, length):
    # u in [0, 1] eased at both ends, so pans start and stop like a hand, not a robot.
    u = f"min(max({variable}/{length},0),1)"
    return f"({u}*{u}*(3-2*{u}))"


def plan_shot(photo, size, frame_count, output_size, rng, whip_in, whip_out):
    """Choose a camera path over the photo and return the Shot with its expressions."""
    output_width, output_height = output_size
    aspect = output_width / output_height
    photo_width, photo_height = size
    # Just covering the frame: the gcompris photos are only 320 px wide, so a larger canvas would
    # add no detail, only cost (the perspective filter's time grows with the canvas area).
    scale = max(output_width / photo_width, output_height / photo_height)
    scaled_width = 2 * round(photo_width * scale / 2)
    scaled_height = 2 * round(photo_height * scale / 2)
    canvas_width = max(scaled_width, math.ceil(scaled_height * aspect / 2) * 2)
    canvas_height = 2 * round(canvas_width / aspect / 2)

    # Window half-height hh (half-width hh*aspect). Its largest value keeps the window, tilted by up
    # to max_tilt and shaken, inside the photo; margin covers the tilt's growth of the bounding box.
    max_tilt = 0.05  # radians, about 3 degrees: a hand never holds a phone perfectly level
    margin = 1.0 + max_tilt * 1.2
    largest = min(scaled_height / 2, scaled_width / (2 * aspect)) / margin
    shake = 0.012 * largest  # hand tremor amplitude, about 1% of the view
    largest -= 2 * shake

    # Zoom in, zoom out or hold, chosen per shot.
    style = rng.choice(["in", "out", "hold"])
    wide, tight = largest * rng.uniform(0.92, 1.0), largest * rng.uniform(0.72, 0.85)
    hh0, hh1 = {"in": (wide, tight), "out": (tight, wide), "hold": (wide * 0.9, wide * 0.85)}[style]

    def centre_range(half_height):
        half_width = half_height * aspect
        spread_x = max(0.0, scaled_width / 2 - margin * half_width - shake)
        spread_y = max(0.0, scaled_height / 2 - margin * half_height - shake)
        return spread_x, spread_y

    # Pan from one side toward the other along the longer free axis, partly, at a random speed.
    spread0 = centre_range(hh0)
    spread1 = centre_range(hh1)
    side = rng.choice([-1, 1])
    pan_axis = 0 if spread1[0] >= spread1[1] else 1
    start = [rng.uniform(-0.3, 0.3) * spread0[0], rng.uniform(-0.3, 0.3) * spread0[1]]
    end = [rng.uniform(-0.3, 0.3) * spread1[0], rng.uniform(-0.3, 0.3) * spread1[1]]
    start[pan_axis] = side * rng.uniform(0.3, 0.7) * spread0[pan_axis]
    end[pan_axis] = -side * rng.uniform(0.1, 0.5) * spread1[pan_axis]

    # A whip pan: the view accelerates off along the free axis in the shot's last frames (whip_out)
    # or arrives fast and settles in its first frames (whip_in). Park the end/start at the far side
    # so the fast move stays on the photo.
    whip_axis_out = 0 if spread1[0] >= spread1[1] else 1
    whip_axis_in = 0 if spread0[0] >= spread0[1] else 1
    whip_out_amount = whip_in_amount = 0.0
    if whip_out:
        end[whip_axis_out] = -0.95 * spread1[whip_axis_out]
        whip_out_amount = 1.9 * spread1[whip_axis_out]
    if whip_in:
        start[whip_axis_in] = 0.95 * spread0[whip_axis_in]
        whip_in_amount = 1.9 * spread0[whip_axis_in]

    last = frame_count - 1
    ease = smoothstep("in", last)
    half_height = f"({hh0:.2f}+({hh1 - hh0:.2f})*{ease})"
    half_width = f"({half_height}*{aspect:.5f})"

    # Tremor: three incommensurate sines (about 1.3, 3.1 and 7.3 Hz) look like a random hand.
    def tremor():
        phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
        weights = (0.6, 0.3, 0.15)
        frequencies = (1.3, 3.1, 7.3)
        terms = [
            f"{w * shake:.3f}*sin({2 * math.pi * f / FRAME_RATE:.5f}*in+{p:.3f})"
            for w, f, p in zip(weights, frequencies, phases)
        ]
        return "(" + "+".join(terms) + ")"

    centres = []
    for axis, (axis_start, axis_end) in enumerate(zip(start, end)):
        base = scaled_width / 2 if axis == 0 else scaled_height / 2
        path = f"({base + axis_start:.2f}+({axis_end - axis_start:.2f})*{ease})"
        if whip_out and axis == whip_axis_out:
            # Quadratic acceleration over the last WHIP_FRAMES frames.
            path += f"+{whip_out_amount:.2f}*pow(max(in-{last - WHIP_FRAMES},0)/{WHIP_FRAMES},2)"
        if whip_in and axis == whip_axis_in:
            path += f"-{whip_in_amount:.2f}*pow(max({WHIP_FRAMES}-in,0)/{WHIP_FRAMES},2)"
        path += f"+{tremor()}"
        # Safety net: never let the view leave the photo (it would show the canvas padding).
        extent = half_width if axis == 0 else half_height
        limit = scaled_width if axis == 0 else scaled_height
        centres.append(f"clip({path},{margin:.3f}*{extent},{limit}-{margin:.3f}*{extent})")

    # Tilt: a fixed lean plus a slow sway and the rotational part of the tremor.
    lean = rng.uniform(-0.6, 0.6) * max_tilt
    sway = rng.uniform(0.1, 0.3) * max_tilt
    sway_phase = rng.uniform(0, 2 * math.pi)
    tilt = (
        f"({lean:.4f}+{sway:.4f}*sin({2 * math.pi * 0.4 / FRAME_RATE:.5f}*in+{sway_phase:.3f})"
        f"+{0.1 * max_tilt:.4f}*sin({2 * math.pi * 4.1 / FRAME_RATE:.5f}*in))"
    )

    centre_x, centre_y = centres
    expressions = {}
    corners = {0: (-1, -1), 1: (1, -1), 2: (-1, 1), 3: (1, 1)}  # top-left, top-right, bottom-left, bottom-right
    for index, (sign_x, sign_y) in corners.items():
        offset_x = f"({sign_x}*{half_width})"
        offset_y = f"({sign_y}*{half_height})"
        expressions[f"x{index}"] = f"{centre_x}+cos({tilt})*{offset_x}-sin({tilt})*{offset_y}"
        expressions[f"y{index}"] = f"{centre_y}+sin({tilt})*{offset_x}+cos({tilt})*{offset_y}"
    return Shot(photo, frame_count, scaled_width, scaled_height, canvas_width, canvas_height, expressions, whip_out)


def shot_filter(input_index, shot, output_size, label):
    output_width, output_height = output_size
    perspective = ":".join(f"{name}='{value}'" for name, value in sorted(shot.expressions.items()))
    return (
        # Upscale the single decoded photo once, then repeat that canvas for every frame of the shot.
        f"[{input_index}:v]scale={shot.photo_width}:{shot.photo_height}:flags=lanczos,setsar=1,format=yuv420p,"
        f"pad={shot.canvas_width}:{shot.canvas_height}:0:0,"
        f"loop=loop={shot.frame_count - 1}:size=1:start=0,settb=1/{FRAME_RATE},setpts=N,"
        f"perspective={perspective}:interpolation=linear:eval=frame,"
        f"scale={output_width}:{output_height}:flags=bicubic,setsar=1[{label}]"
    )


def movie_commands(movie, photo_class_label, output_size=None, seed_name=None, photo_folder=None):
    """Return (ffmpeg command lines, frame count, input files, description) for one movie.

    The movie's photos are `photo_folder/NAME` (relative to generated/), by default
    `photos/LABEL/NAME.webp`.
    """
    display_size = output_size or (PORTRAIT_SIZE if movie.portrait else SQUARE_SIZE)
    rng = random.Random(seed_name or movie.path)
    if photo_folder is None:
        photos = [f"photos/{photo_class_label}/{name}.webp" for name in movie.photos]
    else:
        photos = [f"{photo_folder}/{name}" for name in movie.photos]
    shots = []
    for index, photo in enumerate(photos):
        frame_count = round(rng.uniform(*movie.seconds_per_photo) * FRAME_RATE)
        shots.append(
            plan_shot(
                photo,
                photo_size(photo),
                frame_count,
                display_size,
                rng,
                whip_in=(index - 1) in movie.whip_after,
                whip_out=index in movie.whip_after,
            )
        )
    total_frames = sum(shot.frame_count for shot in shots)

    arguments = []
    for shot in shots:
        arguments += ["-i", shot.photo]
    graph = [shot_filter(i, shot, display_size, f"shot{i}") for i, shot in enumerate(shots)]
    labels = "".join(f"[shot{i}]" for i in range(len(shots)))
    graph.append(f"{labels}concat=n={len(shots)}:v=1:a=0[joined]")

    # Motion blur: average WHIP_BLEND_FRAMES consecutive frames, used only around whip cuts.
    cut_frames = []
    shot_ranges = []
    first = 0
    for shot in shots:
        shot_ranges.append({"photo": shot.photo, "first_frame": first, "frame_count": shot.frame_count})
        first += shot.frame_count
        if shot.whip_out:
            cut_frames.append(first)
    blurred = [[cut - WHIP_FRAMES + 1, cut + WHIP_FRAMES - 2] for cut in cut_frames]
    if cut_frames:
        windows = "+".join(f"between(n,{start},{end})" for start, end in blurred)
        graph.append(
            # The Gaussian smooths the blended positions into a streak, as a real exposure would.
            f"[joined]split[sharp][toblur];[toblur]tmix=frames={WHIP_BLEND_FRAMES},gblur=sigma=2.5[blurred];"
            f"[sharp][blurred]overlay=enable='{windows}'[moving]"
        )
    else:
        graph.append("[joined]null[moving]")

    # Auto-exposure drift (slow brightness and gamma wander) and sensor noise, as a phone does.
    exposure_phase = rng.uniform(0, 2 * math.pi)
    gamma_phase = rng.uniform(0, 2 * math.pi)
    finish = (
        f"[moving]eq=brightness='0.05*sin(2*PI*t/5.3+{exposure_phase:.3f})'"
        f":gamma='1+0.12*sin(2*PI*t/7.9+{gamma_phase:.3f})':contrast=1.04:saturation=1.08:eval=frame,"
        f"format=yuv420p,noise=c0s=7:c1s=4:c2s=4:allf=t"
    )
    if movie.portrait:
        # Stored sideways (rotated 90 degrees counter-clockwise), as a phone sensor records it.
        finish += ",transpose=cclock"
    graph.append(finish + "[out]")

    if movie.codec == "hevc":
        codec = ["-c:v", "libx265", "-preset", "fast", "-crf", "26", "-tag:v", "hvc1"]
        codec += ["-x265-params", "log-level=error:pools=1:frame-threads=1:keyint=60:min-keyint=30"]
    else:
        codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-profile:v", "high"]
        codec += ["-g", "60", "-threads", "1"]
    # Portrait movies are encoded to a scratch file, then tagged while stream-copying (below).
    output = movie.path + ".encoding.mov" if movie.portrait else movie.path
    command = ffmpeg(
        *arguments,
        "-filter_threads",
        "1",
        "-filter_complex",
        ";".join(graph),
        "-map",
        "[out]",
        "-r",
        str(FRAME_RATE),
        *codec,
        "-pix_fmt",
        "yuv420p",
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
        "-movflags",
        "+faststart",
        output,
    )
    commands = [command]
    if movie.portrait:
        # ffmpeg 5.1 turns the legacy rotate=270 tag into the display matrix an iPhone writes for
        # portrait video ([0 1; -1 0], ffprobe rotation=-90): players turn the frames 90 degrees
        # clockwise. verify_portrait() checks the result, so a different ffmpeg fails loudly.
        tag = ["-c", "copy", "-metadata:s:v:0", "rotate=270", "-fflags", "+bitexact", "-movflags", "+faststart"]
        commands.append(ffmpeg("-i", output, *tag, movie.path))
    width, height = display_size
    description = {
        "path": movie.path,
        "label": photo_class_label,
        "codec": movie.codec,
        "frame_rate": FRAME_RATE,
        "frame_count": total_frames,
        "display_size": [width, height],
        "coded_size": [height, width] if movie.portrait else [width, height],
        "display_rotation": -90 if movie.portrait else 0,
        "shots": shot_ranges,
        "blurred_frames": blurred,
    }
    return commands, total_frames, photos, description


def verify_portrait(movie_path):
    """Delete the scratch encode and check the display rotation and the upright decoded size."""
    (GENERATED_DIR / (movie_path + ".encoding.mov")).unlink()
    probe = run_tool(
        ["ffprobe", "-v", "error", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0", movie_path]
    ).decode()
    decoded = run_tool(ffmpeg("-i", movie_path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"))
    width, height = PORTRAIT_SIZE
    if probe.strip() != "-90" or len(decoded) != width * height:
        raise BuildError(
            f"{movie_path}: expected display rotation -90 and upright {width}x{height} frames, got rotation "
            f"{probe.strip()!r} and a {len(decoded)}-byte frame; this ffmpeg tags rotation differently "
            "from Debian 12's ffmpeg 5.1"
        )


def build(outputs, commands, inputs, after=None, note=""):
    """Run `commands` (then `after`) unless `outputs` exist with the same recipe; return 1 if run.

    `note` names what `after` does, so that changing it changes the recipe.
    """
    key = recipe_key(commands + [note], inputs)
    if is_fresh(outputs, key):
        return 0
    # Forget the old recipe first: an interrupted run must not leave a half-written output that a
    # matching stamp would vouch for.
    stamp_path(outputs[0]).unlink(missing_ok=True)
    for output in outputs:
        (GENERATED_DIR / output).parent.mkdir(parents=True, exist_ok=True)
    for command in commands:
        run_tool(command)
    if after:
        after()
    mark_fresh(outputs, key)
    return 1


# ----------------------------------------------------------------------------------------------
# The individual products.


def make_heldout(photo_class):
    jobs = []
    for name in photo_class.heldout:
        source = f"photos/{photo_class.label}/{name}.webp"
        target = f"heldout/{photo_class.label}/{name}.jpg"
        command = ffmpeg(
            "-i",
            source,
            "-vf",
            f"scale='min({HELDOUT_MAX_SIDE},iw)':'min({HELDOUT_MAX_SIDE},ih)':force_original_aspect_ratio=decrease",
            "-q:v",
            "2",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            target,
        )
        jobs.append(([target], [command], [source]))
    return jobs


def make_rotation_reference_frames():
    """Decode rotation/rotated.mov with ffmpeg's autorotate and keep every 10th frame, upright."""
    folder = GENERATED_DIR / "rotation"
    for stale in folder.glob("frame_*.png"):
        stale.unlink()
    scratch = folder / "decoded"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    run_tool(
        ffmpeg(
            "-autorotate",
            "1",
            "-i",
            "rotation/rotated.mov",
            "-vf",
            f"select='not(mod(n\\,{ROTATION_REFERENCE_STEP}))'",
            "-fps_mode",
            "passthrough",
            "-pix_fmt",
            "rgb24",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            "rotation/decoded/%03d.png",
        )
    )
    decoded = sorted(scratch.glob("*.png"))
    for position, path in enumerate(decoded):
        path.rename(folder / f"frame_{position * ROTATION_REFERENCE_STEP:03d}.png")
    scratch.rmdir()
    width, height = PORTRAIT_SIZE
    (folder / "README.txt").write_text(
        f"rotated.mov: H.264, 30 fps, 60 frames, stored {height}x{width} (coded, content turned 90 degrees\n"
        "counter-clockwise) with the display matrix an iPhone writes for portrait video ([0 1; -1 0];\n"
        f"ffprobe: rotation=-90), so players turn it 90 degrees clockwise and show it upright at {width}x{height}.\n"
        "frame_NNN.png: decoded frame NNN (0-based, presentation order) of rotated.mov, written by\n"
        f"`ffmpeg -i rotated.mov -vf select='not(mod(n,{ROTATION_REFERENCE_STEP}))' -fps_mode passthrough`\n"
        "with ffmpeg's autorotate on: upright RGB references for comparing a decoder's output.\n"
    )


def bad_inputs_jobs():
    """Robustness inputs; they derive from drop/fish.mov and Debian's opencv-doc sample videos.

    Each job is (outputs, commands, inputs, after, note) for build().
    """
    jobs = []
    for name in ("tree.avi", "vtest.avi"):
        source = OPENCV_DATA / name
        if not source.exists():
            raise BuildError(f"{source} is missing; install it with `apt-get install opencv-doc`")
        target = f"bad/{name}"
        jobs.append(([target], [], [source], lambda s=source, t=target: copy_file(s, t), f"copy {name}"))
    # fish.mov is written with +faststart, so its first 30% holds the full index (claiming every
    # frame) but only part of the frame data: a typical interrupted upload.
    jobs.append(
        (
            ["bad/truncated.mov"],
            [],
            ["drop/fish.mov"],
            lambda: truncate_file("drop/fish.mov", "bad/truncated.mov"),
            "first 30% of drop/fish.mov",
        )
    )
    # The same cut of a moov-at-end copy of fish.mov: no index at all, so nothing can decode.
    remux = ffmpeg("-i", "drop/fish.mov", "-c", "copy", "-fflags", "+bitexact", "bad/moov-at-end.tmp.mov")

    def cut_remuxed():
        truncate_file("bad/moov-at-end.tmp.mov", "bad/truncated-no-index.mov")
        (GENERATED_DIR / "bad/moov-at-end.tmp.mov").unlink()

    jobs.append((["bad/truncated-no-index.mov"], [remux], ["drop/fish.mov"], cut_remuxed, "first 30%, moov at end"))
    jobs.append(
        (
            ["bad/jpeg-renamed.mov"],
            [],
            ["heldout/fish/fish6.jpg"],
            lambda: copy_file("heldout/fish/fish6.jpg", "bad/jpeg-renamed.mov"),
            "copy fish6.jpg",
        )
    )
    return jobs


def write_if_changed(relative_path, text):
    """Rewrite a small generated text file only when its content differs (keeps mtimes stable)."""
    path = GENERATED_DIR / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_small_bad_files():
    """Files whose content is fixed text: rewritten every run (cheap), so no stamp is needed."""
    write_if_changed("bad/empty.mov", "")
    write_if_changed(
        "bad/not-a-video.mov",
        "This is a plain text file named .mov. dropnet must report it as not a video and carry on.\n",
    )


def truncate_file(source, target, fraction=0.3):
    data = (GENERATED_DIR / source).read_bytes()
    (GENERATED_DIR / target).write_bytes(data[: int(len(data) * fraction)])


def copy_file(source, target):
    shutil.copyfile(GENERATED_DIR / source, GENERATED_DIR / target)


def long_movie_jobs():
    """--long: one 10 s 1080p clip of fish photos, stream-copied LONG_LOOPS times (10 minutes)."""
    segment = Movie(
        "long-parts/segment-1080p.mov",  # outside long/: that folder is a drop folder
        ["fish1", "fish9", "fish4", "fish28", "fish25"],
        seconds_per_photo=(2.0, 2.0),
        whip_after=(1, 3),
    )
    commands, frames, inputs, _ = movie_commands(segment, "fish", output_size=LONG_SIZE, seed_name="long")
    loop = ffmpeg(
        "-stream_loop",
        str(LONG_LOOPS - 1),
        "-i",
        segment.path,
        "-c",
        "copy",
        "-fflags",
        "+bitexact",
        "-movflags",
        "+faststart",
        "long/long-1080p.mov",
    )
    return [([segment.path], commands, inputs), (["long/long-1080p.mov"], [loop], [segment.path])], frames


# ----------------------------------------------------------------------------------------------


def run_jobs(jobs, workers):
    """Run independent jobs, `workers` at a time (each ffmpeg is single-threaded)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(build, *job) for job in jobs]
        return sum(future.result() for future in futures)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also make long/long-1080p.mov (10 min 1080p)")
    parser.add_argument("--jobs", type=int, default=2, help="ffmpeg processes at a time (default 2)")
    options = parser.parse_args()

    started = time.monotonic()
    GENERATED_DIR.mkdir(parents=True, exist_ok=True)
    # Test suites may start several runs at once; the lock makes later ones wait, then find
    # everything fresh. It is released when the process exits.
    lock = open(GENERATED_DIR / ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not GCOMPRIS_BUNDLE.exists():
        raise BuildError(f"{GCOMPRIS_BUNDLE} is missing; install it with `apt-get install gcompris-qt-data`")
    steps = extract_photos()

    movie_jobs = []
    descriptions = []
    seconds = 0.0
    movie_count = 0
    for photo_class in CLASSES:
        for movie in photo_class.movies:
            commands, frames, inputs, description = movie_commands(movie, photo_class.label)
            descriptions.append(description)
            after = (lambda path=movie.path: verify_portrait(path)) if movie.portrait else None
            movie_jobs.append(([movie.path], commands, inputs, after, "portrait check" if after else ""))
            seconds += frames / FRAME_RATE
            movie_count += 1
    rotation_commands, _, rotation_inputs, description = movie_commands(ROTATION_MOVIE, ROTATION_PHOTO_CLASS)
    descriptions.append(description)
    write_if_changed("movies.json", json.dumps({"movies": descriptions}, indent=2) + "\n")
    # The longest movies first, so the two workers finish together.
    movie_jobs.sort(key=lambda job: -len(job[1][0]))  # a longer command line means more photos
    heldout_jobs = [job for photo_class in CLASSES for job in make_heldout(photo_class)]
    steps += run_jobs(movie_jobs + heldout_jobs, options.jobs)

    reference_outputs = ["rotation/rotated.mov", "rotation/README.txt"] + [
        f"rotation/frame_{n:03d}.png" for n in range(0, 60, ROTATION_REFERENCE_STEP)
    ]
    def rotation_after():
        verify_portrait(ROTATION_MOVIE.path)
        make_rotation_reference_frames()

    steps += build(reference_outputs, rotation_commands, rotation_inputs, rotation_after, "portrait check, references")

    write_small_bad_files()
    steps += run_jobs(bad_inputs_jobs(), options.jobs)

    long_note = ""
    if options.long:
        long_jobs, _ = long_movie_jobs()
        for job in long_jobs:
            steps += build(*job)
        long_note = f", plus long/long-1080p.mov ({LONG_LOOPS * 10 // 60} min)"

    heldout_count = sum(len(c.heldout) for c in CLASSES)
    elapsed = time.monotonic() - started
    work = f"{steps} steps run" if steps else "nothing to do"
    print(
        f"examples: {len(CLASSES)} classes ({', '.join(c.label for c in CLASSES)}), {movie_count} movies, "
        f"{seconds:.1f} s of video, {heldout_count} held-out photos{long_note} in {GENERATED_DIR} "
        f"({work}, {elapsed:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BuildError as error:
        print(f"make-examples: {error}", file=sys.stderr)
        sys.exit(1)
