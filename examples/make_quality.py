#!/usr/bin/env python3
"""Build the quality benchmark's data set under examples/generated/quality/ (run through make-quality.sh).

Ten classes of real cut-out photos (Tux Paint's stamps: photos with an alpha channel) composited
onto real background photos. Some photos of each class are filmed as hand-held phone movies (the
drop folder); other photos of the class, never in any movie, composited on other backgrounds,
are the test photos (480x480 JPEG), as a user would photograph the objects with the phone.

Python 3 standard library plus the ffmpeg command-line tool, with make_examples.py's recipes,
stamps and camera simulation: a second run skips everything whose recipe did not change, and
every random choice comes from a seeded random.Random, so two clean runs give the same files.

See examples/README.md ("Quality benchmark") for what is produced and why.
"""

import argparse
import fcntl
import json
import math
import random
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import make_examples
from make_examples import FRAME_RATE, GENERATED_DIR, BuildError, Movie, build, ffmpeg, run_jobs, verify_portrait
from rcc_extract import RccBundle

QUALITY = "quality"  # the data set's folder, relative to generated/
QUALITY_DIR = GENERATED_DIR / QUALITY

STAMPS = Path("/usr/share/tuxpaint/stamps")  # Debian tuxpaint-stamps-default
TEMPLATES = Path("/usr/share/tuxpaint/templates")  # Debian tuxpaint-data
OPENCV_DATA = make_examples.OPENCV_DATA  # Debian opencv-doc
DETAILS_BUNDLE = Path("/usr/share/gcompris-qt/rcc/details.rcc")  # Debian gcompris-qt-data
DETAILS_IMAGES = "gcompris/src/activities/details/resource/image"

# Composited stills that the camera films: square movies, and 3:4 for the portrait clip. The
# camera scales them to just cover the 360-pixel movie frame.
STILL_SIZE = (480, 480)
PORTRAIT_STILL_SIZE = (480, 640)
# Test photos: square, as a phone's photo cropped for the model.
TEST_SIZE = 480
TESTS_PER_CLASS = 24
# The object's longer side as a share of the picture's shorter side (before its tilt).
MOVIE_OBJECT_SHARE = (0.42, 0.7)
TEST_OBJECT_SHARE = (0.4, 0.75)
# Stamps are small (most 100-400 pixels); enlarging them more than this would only blur them.
MAX_UPSCALE = 2.5
# A hand-held object or a casual photo is rarely level: up to this many degrees either way.
MAX_TILT_DEGREES = 12
SHADOW_PAD = 24  # transparent border around the object so its blurred shadow is not cut


@dataclass
class ObjectClass:
    """One class: its cut-out photos for the movies and the held-out ones for the test photos."""

    label: str
    movie_photos: list  # stamp paths under STAMPS, without .png
    heldout: list
    clips: int = 1  # 1: drop/LABEL.mov; more: drop/LABEL/clip-N.mov
    hevc: tuple = ()  # clip numbers (1-based) encoded as HEVC
    portrait: tuple = ()  # clip numbers stored as portrait movies with rotation metadata
    shots: list = field(default_factory=list)  # filled by plan_movies


# Each photo is either in the movies or held out, never both: the choice is explicit so that a
# test photo can never leak into the drop folder. Stamps that are drawings, near-copies (mirrored
# versions) or too small to enlarge are left out.
CLASSES = [
    ObjectClass(
        "bird",
        ["animals/birds/" + n for n in ["blackbird", "duck", "hen", "owl", "pelican"]],
        ["animals/birds/" + n for n in
         ["crow", "guineafowl", "lark", "magellanic_penguin", "pigeon", "rooster", "seagull", "tucan"]],
    ),
    ObjectClass(
        "fish",
        ["animals/fish/" + n for n in ["clownfish", "coraltrout", "lionfish", "stripedfish"]],
        ["animals/fish/" + n for n in ["bluegroper", "butterflyfish", "dolphinfish", "moonwrasse", "seahorse"]],
        hevc=(1,),
    ),
    ObjectClass(
        "flower",
        ["plants/flowers/" + n for n in ["anemone_red", "daffodil", "flower10", "marigold", "rose"]],
        ["plants/flowers/" + n for n in
         ["adeenia", "flower1", "flower2", "flower4", "flower8", "iris", "red-gazania", "whitestar-petunia"]],
    ),
    ObjectClass(
        "fruit",
        ["food/fruit/Cherry_Stella", "food/fruit/Strawberry2", "food/fruit/avocado", "food/fruit/kiwi",
         "food/fruit/orange_seville"],
        ["food/fruit/Apricot_whole", "food/fruit/apricot", "food/fruit/cherimoya", "food/fruit/lemon",
         "food/fruit/mandarine", "plants/trees/rambutan"],
    ),
    ObjectClass(
        "hoofed",
        ["animals/mammals/bovines/" + n for n in ["bull", "cow", "goat", "sheep", "gnu-stand"]],
        ["animals/mammals/bovines/" + n for n in
         ["bison", "cow_white", "indian_blackbuck", "mountaingoat", "ram", "sheep_lamb", "yak", "zebu"]],
        hevc=(1,),
    ),
    ObjectClass(
        "instrument",
        ["hobbies/music/string/guitar_classical", "hobbies/music/string/violin", "hobbies/music/percussion/drumkit",
         "hobbies/music/brass/trumpet", "hobbies/music/string/cello"],
        ["hobbies/music/string/guitar2", "hobbies/music/string/guitar_electric",
         "hobbies/music/string/guitar_electric_bass", "hobbies/music/percussion/cymbal_crash",
         "hobbies/music/percussion/drum_tomtom_floor", "hobbies/music/wind/bassoon"],
        clips=3,
        portrait=(3,),
    ),
    ObjectClass(
        "planet",
        ["space/moon/moon_full", "space/planets/3_earth", "space/planets/5_jupiter", "space/planets/6_saturn",
         "space/planets/2_venus"],
        ["space/moon/moon_3qt", "space/moon/moon_crescent", "space/planets/1_mercury", "space/planets/4_mars",
         "space/planets/7_uranus", "space/planets/8_neptune"],
    ),
    ObjectClass(
        "small_mammal",
        ["animals/mammals/rodents/" + n for n in ["squirrel", "rabbit", "marmot", "rat", "beaver"]],
        ["animals/mammals/rodents/capybara", "animals/mammals/rodents/mouse", "animals/mammals/rodents/rabbit-2",
         "animals/mammals/rabbit_little", "animals/mammals/ferret", "animals/mammals/badger",
         "animals/marsupials/wombat"],
    ),
    ObjectClass(
        "tool",
        ["household/tools/" + n for n in ["hammer", "saw", "plyers", "wrench_plumbers", "spade"]],
        ["household/tools/" + n for n in
         ["mallet_metal", "measuring_tape", "paintbrush_large", "toolbox", "wrench", "wrench_adjustable"]],
        clips=3,
        hevc=(2,),
    ),
    ObjectClass(
        "vehicle",
        ["vehicles/auto/beetle", "vehicles/auto/sedan", "vehicles/emergency/firetruck",
         "vehicles/masstransit/green_korean_bus", "vehicles/construction/dumper"],
        ["vehicles/auto/sportscar2", "vehicles/auto/truck", "vehicles/race/indycar", "vehicles/garbagetruck",
         "military/vehicles/infantry-stryker", "military/vehicles/bradley"],
        clips=3,
    ),
]


@dataclass
class Background:
    """A background photo: where it comes from and its credit."""

    name: str
    path: str  # absolute, or relative to generated/ (extracted from a gcompris bundle)
    credit: str


def template(name):
    return Background(
        name, str(TEMPLATES / f"{name}.jpg"),
        "Tux Paint template, photo by Bill Kendrick (Debian tuxpaint-data; GPL-2+)",
    )


def opencv(name):
    return Background(
        Path(name).stem, str(OPENCV_DATA / name),
        "OpenCV sample data (Debian opencv-doc; /usr/share/doc/opencv-doc/copyright: BSD-3-Clause)",
    )


def details(name):
    # Credit filled from the bundle's README when extracted.
    return Background(name, f"{QUALITY}/sources/backgrounds/{name}.webp", "")


# Movie and test backgrounds never overlap, so a test photo shows its object on a scene the
# network has never seen. Backgrounds that show one of the classes (sheep, flowers, insects) or
# are paintings are left out.
MOVIE_BACKGROUNDS = [
    *map(template, ["burnt_bark", "cliff", "corn_maze", "mossy_log", "ocean_waves", "redwoods_above", "rocks",
                    "sun_behind_leaves", "trees_at_dusk", "wool_mill_machine"]),
    *map(opencv, ["stuff.jpg", "building.jpg", "board.jpg", "aero1.jpg"]),
    *map(details, ["Chenonceau", "EilanDonanCastle", "GizahPyramids", "Nagoya", "OperaSidney", "TourEiffel",
                   "TowerBridgeLondon"]),
]
TEST_BACKGROUNDS = [
    *map(template, ["mossy_bark", "mudstone", "ocean_splash", "spiders_web", "sun_behind_clouds", "trees_above",
                    "lighthouse"]),
    *map(opencv, ["ela_original.jpg", "home.jpg", "leuvenA.jpg", "box_in_scene.png"]),
    *map(details, ["EgeskovSlotSpejling", "FanoeWindmill", "Louvre_2007_02_24_c", "NDP", "Neuschwanstein",
                   "TajMahal"]),
]


# ----------------------------------------------------------------------------------------------
# Sources.


def absolute(path):
    return Path(path) if Path(path).is_absolute() else GENERATED_DIR / path


def image_size(path):
    """Width and height of a PNG, JPEG or WebP file, read from its header."""
    data = absolute(path).read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack_from(">II", data, 16)
    if data[:2] == b"\xff\xd8":
        position = 2
        while position + 9 < len(data):
            if data[position] != 0xFF:
                break
            marker = data[position + 1]
            (length,) = struct.unpack_from(">H", data, position + 2)
            # Start-of-frame markers (baseline, progressive, ...) carry height then width.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack_from(">HH", data, position + 5)
                return width, height
            position += 2 + length
        raise BuildError(f"{path}: no JPEG frame header found")
    if data[:4] == b"RIFF":
        return make_examples.photo_size(absolute(path))
    raise BuildError(f"{path}: not a PNG, JPEG or WebP file")


def stamp_file(stamp):
    return STAMPS / f"{stamp}.png"


def check_sources():
    """Fail early, naming the package to install, when a source file is missing."""
    for photo_class in CLASSES:
        for stamp in photo_class.movie_photos + photo_class.heldout:
            if not stamp_file(stamp).exists():
                raise BuildError(
                    f"{stamp_file(stamp)} is missing; install the stamps with "
                    "`bash examples/install-dependencies.sh --quality` (Debian tuxpaint-stamps-default)"
                )
    shared = {b.path for b in MOVIE_BACKGROUNDS} & {b.path for b in TEST_BACKGROUNDS}
    if shared:
        raise BuildError(f"backgrounds {sorted(shared)} are used by both movies and test photos")
    filmed = {stamp for c in CLASSES for stamp in c.movie_photos}
    leaked = filmed & {stamp for c in CLASSES for stamp in c.heldout}
    if leaked:
        raise BuildError(f"{sorted(leaked)} are both filmed and held out")
    for background in MOVIE_BACKGROUNDS + TEST_BACKGROUNDS:
        if Path(background.path).is_absolute() and not Path(background.path).exists():
            package = "tuxpaint-data" if str(TEMPLATES) in background.path else "opencv-doc"
            raise BuildError(
                f"{background.path} is missing; install it with `bash examples/install-dependencies.sh --quality` "
                f"(Debian {package})"
            )
    if not DETAILS_BUNDLE.exists():
        raise BuildError(f"{DETAILS_BUNDLE} is missing; install it with `apt-get install gcompris-qt-data`")


def extract_details_backgrounds():
    """Write the gcompris backgrounds (WebP) and fill in their credits from the bundle README."""
    wanted = [b for b in MOVIE_BACKGROUNDS + TEST_BACKGROUNDS if not Path(b.path).is_absolute()]
    readme = f"{QUALITY}/sources/backgrounds/README.gcompris-details"
    outputs = [readme] + [b.path for b in wanted]
    key = json.dumps([make_examples.file_digest(DETAILS_BUNDLE), outputs])
    ran = 0
    if not make_examples.is_fresh(outputs, key):
        make_examples.stamp_path(outputs[0]).unlink(missing_ok=True)
        entries = RccBundle(DETAILS_BUNDLE).entries()
        (GENERATED_DIR / readme).parent.mkdir(parents=True, exist_ok=True)
        (GENERATED_DIR / readme).write_bytes(entries[f"{DETAILS_IMAGES}/README"])
        for background in wanted:
            entry = f"{DETAILS_IMAGES}/{background.name}_background.webp"
            (GENERATED_DIR / background.path).write_bytes(entries[entry])
        make_examples.mark_fresh(outputs, key)
        ran = 1
    credits = parse_details_readme((GENERATED_DIR / readme).read_text())
    for background in wanted:
        credit = credits.get(f"{background.name}_background.webp")
        if credit is None:
            raise BuildError(f"no credit for {background.name} in the gcompris details README; choose another photo")
        background.credit = credit
    return ran


def parse_details_readme(text):
    """File name -> 'licence; comment' from the gcompris details README (blocks of fields)."""
    credits = {}
    for block in text.split("\n\n"):
        licence = comment = ""
        files = []
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("License:"):
                licence = line.split(":", 1)[1].strip()
            elif line.startswith("Comment:"):
                comment = line.split(":", 1)[1].strip()
            elif line.endswith(".webp"):
                files.append(line.split()[-1])
        for name in files:
            credits[name] = f"gcompris-qt-data details activity, {licence}; {comment}"
    return credits


# ----------------------------------------------------------------------------------------------
# Compositing: one object photo over one background, as one ffmpeg command.


def composite_command(stamp, background, size, object_share, rng, output, jpeg=False):
    """The ffmpeg command that places `stamp` over a random part of `background`.

    The background is cropped to the output's aspect ratio (55-100% of its shorter side, at a
    random place, mirrored half of the time) and scaled; the object is scaled, its brightness
    matched roughly, tilted, given a soft drop shadow and placed at a random position inside the
    picture. Returns the command and a description of the placement.
    """
    width, height = size
    aspect = width / height
    background_width, background_height = image_size(background.path)
    crop_height = min(background_height, background_width / aspect) * rng.uniform(0.55, 1.0)
    crop_width = crop_height * aspect
    crop_x = rng.uniform(0, background_width - crop_width)
    crop_y = rng.uniform(0, background_height - crop_height)
    mirror = rng.random() < 0.5

    object_width, object_height = image_size(stamp_file(stamp))
    longest = rng.uniform(*object_share) * min(width, height)
    scale = min(longest / max(object_width, object_height), MAX_UPSCALE)
    scaled_width = max(2, round(object_width * scale))
    scaled_height = max(2, round(object_height * scale))
    tilt = math.radians(rng.uniform(-MAX_TILT_DEGREES, MAX_TILT_DEGREES))
    tilted_width = scaled_width * abs(math.cos(tilt)) + scaled_height * abs(math.sin(tilt))
    tilted_height = scaled_width * abs(math.sin(tilt)) + scaled_height * abs(math.cos(tilt))
    margin = 0.03 * min(width, height)
    x = rng.uniform(margin, max(margin, width - margin - tilted_width))
    y = rng.uniform(margin, max(margin, height - margin - tilted_height))
    gain = rng.uniform(0.85, 1.08)  # a rough match of the object's exposure to the scene
    shadow_x, shadow_y = rng.uniform(3, 10), rng.uniform(5, 12)
    shadow_opacity = rng.uniform(0.3, 0.5)

    pad = SHADOW_PAD
    graph = (
        f"[0:v]crop={crop_width:.1f}:{crop_height:.1f}:{crop_x:.1f}:{crop_y:.1f},"
        + ("hflip," if mirror else "")
        + f"scale={width}:{height}:flags=lanczos,setsar=1,format=rgb24[background];"
        f"[1:v]format=rgba,scale={scaled_width}:{scaled_height}:flags=lanczos,"
        f"colorchannelmixer=rr={gain:.3f}:gg={gain:.3f}:bb={gain:.3f},"
        f"rotate={tilt:.4f}:ow=rotw({tilt:.4f}):oh=roth({tilt:.4f}):c=none,"
        f"pad=iw+{2 * pad}:ih+{2 * pad}:{pad}:{pad}:color=black@0,split[object][shape];"
        f"[shape]colorchannelmixer=rr=0:gg=0:bb=0:aa={shadow_opacity:.2f},gblur=sigma=6[shadow];"
        f"[background][shadow]overlay={x - pad + shadow_x:.0f}:{y - pad + shadow_y:.0f}[shaded];"
        f"[shaded][object]overlay={x - pad:.0f}:{y - pad:.0f}"
    )
    if jpeg:
        # A phone photo: a slight exposure and colour difference, 4:2:0 JPEG.
        graph += (
            f",eq=brightness={rng.uniform(-0.04, 0.04):.3f}:saturation={rng.uniform(0.9, 1.1):.3f},"
            "format=yuvj420p"
        )
        codec = ["-q:v", "3"]
    else:
        graph += ",format=rgb24"
        codec = []
    command = ffmpeg(
        "-i", background.path, "-i", str(stamp_file(stamp)),
        "-filter_threads", "1", "-filter_complex", graph, "-frames:v", "1", *codec,
        "-fflags", "+bitexact", "-flags:v", "+bitexact", output,
    )
    placement = {
        "object": stamp,
        "background": background.name,
        "object_box": [round(x), round(y), round(tilted_width), round(tilted_height)],
        "tilt_degrees": round(math.degrees(tilt), 1),
    }
    return command, placement


# ----------------------------------------------------------------------------------------------
# The drop folder and the test photos.


def movie_plan(photo_class):
    """The class's movies: for each, its shots as (stamp, background) pairs, and its Movie."""
    rng = random.Random(f"movies/{photo_class.label}")
    shots_per_clip = 8 if photo_class.clips == 1 else 4
    total = shots_per_clip * photo_class.clips
    # Every movie photo once in a shuffled order, then again in another order, and so on: each
    # photo is filmed about equally often, each time on another background.
    stamps = []
    while len(stamps) < total:
        stamps += rng.sample(photo_class.movie_photos, len(photo_class.movie_photos))
    stamps = stamps[:total]
    backgrounds = rng.sample(MOVIE_BACKGROUNDS, total)
    movies = []
    for clip in range(1, photo_class.clips + 1):
        if photo_class.clips == 1:
            path = f"{QUALITY}/drop/{photo_class.label}.mov"
        else:
            path = f"{QUALITY}/drop/{photo_class.label}/clip-{clip}.mov"
        first = (clip - 1) * shots_per_clip
        shots = list(zip(stamps[first:first + shots_per_clip], backgrounds[first:first + shots_per_clip]))
        portrait = clip in photo_class.portrait
        movie = Movie(
            path,
            [f"{Path(path).stem}-shot{index}.png" for index in range(len(shots))],
            codec="hevc" if clip in photo_class.hevc else "h264",
            portrait=portrait,
            seconds_per_photo=(1.15, 1.6) if photo_class.clips == 1 else (1.5, 2.1),
            whip_after=tuple(sorted(rng.sample(range(len(shots) - 1), 2 if len(shots) > 5 else 1))),
        )
        movies.append((movie, shots))
    return movies


def still_jobs(photo_class):
    """Jobs for the composited still of every shot, and the class's movies with their placements."""
    jobs, movies = [], []
    for movie, shots in movie_plan(photo_class):
        folder = f"{QUALITY}/stills/{photo_class.label}"
        size = PORTRAIT_STILL_SIZE if movie.portrait else STILL_SIZE
        placements = []
        for name, (stamp, background) in zip(movie.photos, shots):
            rng = random.Random(f"still/{movie.path}/{name}")
            output = f"{folder}/{name}"
            command, placement = composite_command(stamp, background, size, MOVIE_OBJECT_SHARE, rng, output)
            jobs.append(([output], [command], [str(stamp_file(stamp)), background.path]))
            placements.append(placement)
        movies.append((movie, folder, placements))
    return jobs, movies


def film_jobs(label, movies):
    """Jobs that film the stills (they must exist: the camera path depends on their size)."""
    jobs, descriptions = [], []
    for movie, folder, placements in movies:
        size = make_examples.PORTRAIT_SIZE if movie.portrait else make_examples.SQUARE_SIZE
        commands, _, inputs, description = make_examples.movie_commands(
            movie, label, output_size=size, photo_folder=folder
        )
        after = (lambda path=movie.path: verify_portrait(path)) if movie.portrait else None
        jobs.append(([movie.path], commands, inputs, after, "portrait check" if after else ""))
        for shot, placement in zip(description["shots"], placements):
            shot.update(placement)
            shot["photo"] = str(Path(shot["photo"]).relative_to(QUALITY))
        description["path"] = str(Path(movie.path).relative_to(QUALITY))
        descriptions.append(description)
    return jobs, descriptions


def test_jobs(photo_class, class_index):
    """TESTS_PER_CLASS test photos from the held-out stamps, each on a test background."""
    rng = random.Random(f"test/{photo_class.label}")
    jobs, descriptions = [], []
    # Each held-out photo in turn; backgrounds go round a shuffled list, so one photo never
    # appears twice on the same background and the backgrounds are used about equally.
    backgrounds = list(TEST_BACKGROUNDS)
    rng.shuffle(backgrounds)
    used = {}
    for index in range(TESTS_PER_CLASS):
        stamp = photo_class.heldout[index % len(photo_class.heldout)]
        background = backgrounds[(index + class_index) % len(backgrounds)]
        stem = Path(stamp).name
        name = f"{stem}-{background.name}"
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name += f"-{used[name]}"
        output = f"{QUALITY}/test/{photo_class.label}/{name}.jpg"
        command, placement = composite_command(
            stamp, background, (TEST_SIZE, TEST_SIZE), TEST_OBJECT_SHARE, random.Random(f"test/{output}"), output,
            jpeg=True,
        )
        jobs.append(([output], [command], [str(stamp_file(stamp)), background.path]))
        descriptions.append({"path": str(Path(output).relative_to(QUALITY)), "label": photo_class.label, **placement})
    return jobs, descriptions


def remove_stale(expected):
    """Delete files under drop/, test/ and stills/ that this plan does not make (an older plan's)."""
    removed = 0
    for folder in ("drop", "test", "stills"):
        for path in sorted((QUALITY_DIR / folder).rglob("*")):
            if path.is_file() and str(path.relative_to(GENERATED_DIR)) not in expected:
                path.unlink()
                removed += 1
        for path in sorted((QUALITY_DIR / folder).rglob("*"), reverse=True):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return removed


def credits_text():
    lines = [
        "Sources of dropnet's quality benchmark data set (examples/make-quality.sh).",
        "",
        "Objects: Tux Paint stamps, Debian package tuxpaint-stamps-default (/usr/share/tuxpaint/stamps/),",
        "Copyright 2002-2022 Bill Kendrick and the Tux Paint contributors, GPL-2",
        "(/usr/share/doc/tuxpaint-stamps-default/copyright). Photos with an alpha channel; each stamp's",
        "own .txt beside it names the object.",
        "",
    ]
    for photo_class in CLASSES:
        lines.append(f"{photo_class.label}:")
        lines.append("  in movies: " + ", ".join(f"{s}.png" for s in photo_class.movie_photos))
        lines.append("  held out (test photos only): " + ", ".join(f"{s}.png" for s in photo_class.heldout))
    lines.append("")
    lines.append("Backgrounds:")
    for role, backgrounds in (("movies", MOVIE_BACKGROUNDS), ("test photos", TEST_BACKGROUNDS)):
        for background in backgrounds:
            lines.append(f"  [{role}] {background.name}: {background.path}\n      {background.credit}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="ffmpeg processes at a time (default 2)")
    options = parser.parse_args()

    started = time.monotonic()
    QUALITY_DIR.mkdir(parents=True, exist_ok=True)
    # Runs started at the same time wait for each other; released when the process exits.
    lock = open(QUALITY_DIR / ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    check_sources()
    steps = extract_details_backgrounds()

    stills, tests, photos, planned = [], [], [], []
    for class_index, photo_class in enumerate(CLASSES):
        jobs, movies = still_jobs(photo_class)
        stills += jobs
        planned.append((photo_class.label, movies))
        jobs, descriptions = test_jobs(photo_class, class_index)
        tests += jobs
        photos += descriptions
    steps += run_jobs(stills + tests, options.jobs)
    films, movies = [], []
    for label, planned_movies in planned:
        jobs, descriptions = film_jobs(label, planned_movies)
        films += jobs
        movies += descriptions
    films.sort(key=lambda job: -len(job[1][0]))  # the longest movies first
    steps += run_jobs(films, options.jobs)
    steps += remove_stale({output for job in stills + tests + films for output in job[0]})

    make_examples.write_if_changed(
        f"{QUALITY}/quality.json",
        json.dumps({"classes": [c.label for c in CLASSES], "movies": movies, "test_photos": photos}, indent=2) + "\n",
    )
    make_examples.write_if_changed(f"{QUALITY}/CREDITS.txt", credits_text())

    seconds = sum(movie["frame_count"] for movie in movies) / FRAME_RATE
    elapsed = time.monotonic() - started
    work = f"{steps} steps run" if steps else "nothing to do"
    print(
        f"quality: {len(CLASSES)} classes, {len(movies)} movies ({seconds:.1f} s of video) in {QUALITY_DIR}/drop, "
        f"{len(photos)} test photos ({TEST_SIZE}x{TEST_SIZE}) in {QUALITY_DIR}/test ({work}, {elapsed:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BuildError as error:
        print(f"make-quality: {error}", file=sys.stderr)
        sys.exit(1)
