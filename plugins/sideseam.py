"""Procedural synthetic images of welded overlap side seams: seambench's embedded default data.

Each image is a 224x224 (by default) grayscale crop of a resistance-welded overlap seam running
horizontally across the frame: a band of overlapping weld nuggets (a periodic, fish-scale ripple
along the seam), a heat-tinted halo on both sides of the band, on cold-rolled sheet metal with fine
rolling marks along the seam direction.

The machine runs under one of twelve settings ``A``..``L``. Each setting is a vector of physical
parameters (:class:`SettingParams`: welding current, speed, electrode force, weld frequency)
which maps to what the camera sees (nugget pitch, band width, bead brightness and ripple contrast,
width of the heat-tinted zone, edge sharpness). Per-image nuisances (illumination gain, gradient
and gamma, sensor noise, seam offset and rotation, scratches, dust) are drawn from the same
distribution for every setting, so global statistics such as mean brightness overlap between
settings while the geometry of the seam tells them apart.

Setting ``C`` fails the stress test. Its physical parameters lie in the middle of the nominal
settings' range; what sets its products apart is local: cold-weld stretches where the nuggets no
longer overlap (the overlapped sheet edge shows through the gaps), porosity (small pores in the
bead) and an irregular nugget pitch. These defects are drawn into ``defect_fraction`` of its images
at ``severity`` (0..1; 0 makes ``C`` just another nominal setting). Every image of a failing setting
is labelled ``FAIL`` (all products of that setting fail), every other image ``PASS``.

Only numpy and scipy.ndimage are used; nothing is downloaded. Every image is drawn from its own
generator seeded with ``(seed, setting index, image index)``, so changing ``per_setting`` never
changes earlier images.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

SETTING_NAMES: tuple[str, ...] = tuple("ABCDEFGHIJKL")
DEFAULT_FAILING: tuple[str, ...] = ("C",)
GENERATOR_VERSION: int = 1

PASS = "PASS"
FAIL = "FAIL"

# Physical ranges of the machine's controls; settings live inside these.
CURRENT_KA = (5.0, 9.0)  # welding current, kA
SPEED_M_MIN = (20.0, 70.0)  # seam welding speed, m/min
PRESSURE_KN = (2.0, 5.0)  # electrode force, kN
FREQUENCY_HZ = (400.0, 800.0)  # weld current frequency: one nugget per half-cycle


def _unit(value: float, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return (value - lo) / (hi - lo)


@dataclass(frozen=True)
class SettingParams:
    """The physical parameter vector of one machine setting, and what the camera sees of it.

    Visual parameters are in fractions of the image size (or unitless), so an image rendered at a
    different ``size`` shows the same seam at a different resolution.
    """

    current: float  # kA
    speed: float  # m/min
    pressure: float  # kN
    frequency: float  # Hz

    # Normalised controls in [0, 1].
    @property
    def _i(self) -> float:
        return _unit(self.current, CURRENT_KA)

    @property
    def _s(self) -> float:
        return _unit(self.speed, SPEED_M_MIN)

    @property
    def _p(self) -> float:
        return _unit(self.pressure, PRESSURE_KN)

    @property
    def heat_input(self) -> float:
        """Relative heat input per unit length (current squared over speed), about 0..1."""
        i = self.current / CURRENT_KA[1]
        s = SPEED_M_MIN[0] / self.speed
        return float(np.clip((i * i * s - 0.09) / 0.91, 0.0, 1.0))

    @property
    def nugget_pitch(self) -> float:
        """Distance between consecutive nuggets along the seam (fraction of image width).

        One nugget per half-cycle of the weld current: the pitch grows with speed over frequency.
        """
        lo = math.log(SPEED_M_MIN[0] / FREQUENCY_HZ[1])
        hi = math.log(SPEED_M_MIN[1] / FREQUENCY_HZ[0])
        q = (math.log(self.speed / self.frequency) - lo) / (hi - lo)
        return 0.022 + 0.075 * float(np.clip(q, 0.0, 1.0))

    @property
    def nugget_length(self) -> float:
        """Half-length of one nugget along the seam: nuggets are about as long as the band is wide."""
        return self.band_width * (1.0 + 0.3 * self._i)

    @property
    def overlap(self) -> float:
        """Fraction of a nugget's length covered by the next nugget."""
        return 1.0 - self.nugget_pitch / (2.0 * self.nugget_length)

    @property
    def band_width(self) -> float:
        """Half-width of the weld band across the seam (fraction of image height)."""
        return 0.055 + 0.045 * self._i + 0.030 * (1.0 - self._p)

    @property
    def brightness(self) -> float:
        """Mean brightness of the bead relative to the base metal (signed, in [0, 1] units)."""
        return 0.12 * (0.5 - self._i) + 0.07 * (self._p - 0.5)

    @property
    def contrast(self) -> float:
        """Amplitude of the nugget ripple on the bead."""
        return 0.05 + 0.09 * self._p + 0.03 * self._i

    @property
    def tint_width(self) -> float:
        """Width of the heat-tinted halo beside the band (fraction of image height)."""
        return 0.02 + 0.10 * self.heat_input

    @property
    def tint_strength(self) -> float:
        """Darkening of the heat-tinted zone next to the band."""
        return 0.05 + 0.12 * self.heat_input

    @property
    def edge_sharpness(self) -> float:
        """How abruptly a nugget ends: 1 = crisp edge, 0 = soft, smeared edge."""
        return float(np.clip(0.25 + 0.6 * self._p - 0.2 * self._i + 0.15, 0.0, 1.0))


def _setting(i: float, s: float, p: float, f: float) -> SettingParams:
    """A setting from normalised controls in [0, 1]."""

    def lerp(t: float, lo_hi: tuple[float, float]) -> float:
        return round(lo_hi[0] + t * (lo_hi[1] - lo_hi[0]), 3)

    return SettingParams(lerp(i, CURRENT_KA), lerp(s, SPEED_M_MIN), lerp(p, PRESSURE_KN), lerp(f, FREQUENCY_HZ))


# Nominal settings spread over the control space; C sits in its middle.
SETTINGS: dict[str, SettingParams] = {
    "A": _setting(0.15, 0.20, 0.70, 0.30),
    "B": _setting(0.80, 0.35, 0.25, 0.60),
    "C": _setting(0.50, 0.50, 0.50, 0.50),
    "D": _setting(0.30, 0.85, 0.40, 0.80),
    "E": _setting(0.90, 0.75, 0.80, 0.20),
    "F": _setting(0.20, 0.55, 0.15, 0.90),
    "G": _setting(0.65, 0.10, 0.55, 0.85),
    "H": _setting(0.40, 0.30, 0.90, 0.55),
    "I": _setting(0.70, 0.90, 0.30, 0.40),
    "J": _setting(0.10, 0.40, 0.85, 0.60),
    "K": _setting(0.85, 0.50, 0.65, 0.70),
    "L": _setting(0.45, 0.15, 0.10, 0.10),
}


@dataclass(frozen=True)
class SideseamOptions:
    per_setting: int = 40
    size: int = 224
    seed: int = 0
    severity: float = 0.5
    defect_fraction: float = 0.7
    failing: tuple[str, ...] = DEFAULT_FAILING

    def __post_init__(self) -> None:
        if not isinstance(self.per_setting, (int, np.integer)) or self.per_setting < 1:
            raise ValueError(f"per_setting must be an integer >= 1 (got {self.per_setting!r}); ask for at least one image per setting")
        if not isinstance(self.size, (int, np.integer)) or self.size < 32:
            raise ValueError(f"size must be an integer >= 32 pixels (got {self.size!r}); use size=32 or larger")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer (got {self.seed!r})")
        if not 0.0 <= float(self.severity) <= 1.0:
            raise ValueError(f"severity must lie in [0, 1] (got {self.severity!r}); 0 draws no defects, 1 the strongest")
        if not 0.0 <= float(self.defect_fraction) <= 1.0:
            raise ValueError(
                f"defect_fraction must lie in [0, 1] (got {self.defect_fraction!r}); it is the share of a failing setting's images with defects"
            )
        failing = (self.failing,) if isinstance(self.failing, str) else tuple(self.failing)
        unknown = [f for f in failing if f not in SETTING_NAMES]
        if unknown:
            raise ValueError(f"failing names unknown settings {unknown}; choose among {', '.join(SETTING_NAMES)}")
        object.__setattr__(self, "failing", failing)

    def cache_key(self) -> str:
        payload = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        payload["severity"] = float(self.severity)
        payload["defect_fraction"] = float(self.defect_fraction)
        payload["failing"] = sorted(set(self.failing))
        payload["generator_version"] = GENERATOR_VERSION
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class SideseamImages:
    images: np.ndarray  # (N, size, size) uint8 grayscale
    settings: tuple[str, ...]
    labels: tuple[str, ...]  # "PASS" / "FAIL"
    defective: tuple[bool, ...]  # whether a local defect was drawn into this image


# --------------------------------------------------------------------------------------- rendering


def _noise_1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Smoothed white noise of unit standard deviation, length n."""
    x = rng.standard_normal(n)
    if sigma > 0:
        x = ndimage.gaussian_filter1d(x, sigma, mode="wrap")
    return x / (x.std() + 1e-9)


def _lowfreq_2d(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth random field of roughly unit amplitude: a sum of separable low-frequency waves."""
    t = (np.arange(size) + 0.5) / size
    field = np.zeros((size, size), np.float32)
    for _ in range(3):
        fy, fx = rng.uniform(0.3, cells / 2, 2)
        gy = np.cos(2 * np.pi * (fy * t + rng.uniform()))
        gx = np.cos(2 * np.pi * (fx * t + rng.uniform()))
        field += rng.normal(0.0, 0.7) * np.outer(gy, gx)
    return field


def _sample_profile(profile: np.ndarray, coord: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Sample a 1D profile defined over [lo, hi] at coordinates ``coord`` (linear interpolation)."""
    pos = (coord - lo) / (hi - lo) * (profile.size - 1)
    return np.interp(pos.ravel(), np.arange(profile.size), profile).astype(np.float32).reshape(coord.shape)


def render_seam(params: SettingParams, rng: np.random.Generator, size: int, defect_severity: float) -> np.ndarray:
    """Render one seam image (``size`` x ``size`` uint8) of a setting.

    ``defect_severity`` 0 draws a sound seam; above 0 draws cold-weld gaps, porosity and irregular
    pitch at that severity. Defect randomness comes from a sub-generator drawn at a fixed point, so
    the same ``rng`` state renders the same seam with and without defects.
    """
    S = int(size)
    sev = float(np.clip(defect_severity, 0.0, 1.0))
    defect_rng = np.random.default_rng(rng.integers(0, 2**63))

    # ---- per-image nuisance pose: rotation and seam offset --------------------------------------
    angle = math.radians(rng.uniform(-2.0, 2.0))
    offset_v = rng.normal(0.0, 0.012)  # ~3 px at 224
    phase_u = rng.uniform(0.0, 1.0)
    c = ((np.arange(S, dtype=np.float32) + 0.5) / S - 0.5).astype(np.float32)
    x = c[None, :]
    y = c[:, None]
    ca, sa = math.cos(angle), math.sin(angle)
    u = x * ca + y * sa  # along the seam
    v = -x * sa + y * ca - offset_v  # across the seam
    av = np.abs(v)

    # ---- sheet metal base with rolling marks -----------------------------------------------------
    base_level = rng.uniform(0.40, 0.60)
    n_prof = 6 * S
    streaks = 0.6 * _noise_1d(rng, n_prof, 0.8) + 0.4 * _noise_1d(rng, n_prof, 3.0)
    sparse = rng.random(n_prof) < 0.01
    streaks = streaks + ndimage.gaussian_filter1d(sparse * rng.normal(0, 4.0, n_prof), 1.0)
    streak_amp = rng.uniform(0.018, 0.035)
    # The streaks wander a little and fade in and out along the rolling direction.
    wobble = 0.004 * np.sin(2 * np.pi * (u * rng.uniform(0.5, 1.5) + rng.uniform()))
    marks = _sample_profile(streaks, v + wobble, -1.0, 1.0)
    marks *= 1.0 + 0.4 * np.sin(2 * np.pi * (u * rng.uniform(1.0, 3.0) + rng.uniform()))
    grain = ndimage.gaussian_filter(rng.standard_normal((S, S), dtype=np.float32), 0.6)
    grain /= grain.std() + 1e-9
    # The two overlapped sheets: the upper sheet's edge lies inside the band.
    edge_v = rng.uniform(-0.3, 0.3) * params.band_width
    sheet_step = rng.normal(0.0, 0.025)
    metal = base_level + streak_amp * marks + 0.012 * grain + sheet_step * np.tanh((v - edge_v) * S / 1.5)
    metal += 0.025 * _lowfreq_2d(rng, S, 3)

    # ---- heat tint halo --------------------------------------------------------------------------
    w = params.band_width
    out = np.maximum(av - w * 0.85, 0.0) / params.tint_width
    # Darker oxide next to the band, a faint lighter ring further out.
    tint = -params.tint_strength * np.exp(-(out**2)) + 0.35 * params.tint_strength * np.exp(-(((out - 1.6) / 0.6) ** 2))
    tint *= (1.0 + 0.25 * _sample_profile(_noise_1d(rng, 64, 2.0), u, -1.0, 1.0))
    image = metal + tint

    # ---- nugget train ----------------------------------------------------------------------------
    pitch = params.nugget_pitch
    half_len = params.nugget_length
    n_nug = int(math.ceil(1.6 / pitch)) + 8
    idx = np.arange(n_nug)
    centers = (idx - n_nug / 2 + phase_u) * pitch + rng.normal(0.0, 0.04 * pitch, n_nug)
    radius_u = half_len * rng.normal(1.0, 0.03, n_nug)
    radius_v = w * rng.normal(1.0, 0.02, n_nug)
    heat = rng.normal(0.0, 0.01, n_nug)  # nugget-to-nugget brightness scatter
    bead_wander = _sample_profile(_noise_1d(rng, 64, 4.0), u, -1.0, 1.0) * 0.06 * w

    cold = np.zeros(n_nug, dtype=bool)
    pores: list[tuple[float, float, float, float]] = []
    if sev > 0.0:
        # Irregular pitch: nugget spacing scatters.
        centers = centers + defect_rng.normal(0.0, 0.25 * sev * pitch, n_nug)
        # Cold-weld stretches: nuggets come out small, no longer overlap, and leave gaps.
        for _ in range(int(defect_rng.integers(1, 3))):
            start_u = defect_rng.uniform(-0.45, 0.3)
            length = defect_rng.uniform(0.10, 0.25) * (0.5 + sev)
            cold |= (centers >= start_u) & (centers <= start_u + length)
        small = 0.5 * pitch * (1.0 - 0.45 * sev) * defect_rng.uniform(0.85, 1.1, n_nug)
        radius_u = np.where(cold, small, radius_u)
        radius_v = np.where(cold, radius_v * (1.0 - 0.45 * sev), radius_v)
        heat = heat - cold * 0.02 * sev
        # Porosity: a few small pores in the bead.
        for _ in range(int(defect_rng.poisson(2.0 + 8.0 * sev))):
            pu = defect_rng.uniform(-0.48, 0.48)
            pv = defect_rng.uniform(-0.6, 0.6) * w
            pr = max(0.7 / S, defect_rng.uniform(0.003, 0.006) * (0.7 + 0.8 * sev))
            depth = defect_rng.uniform(0.15, 0.30) * (0.5 + sev)
            pores.append((pu, pv, pr, depth))

    order = np.argsort(centers, kind="stable")
    centers, radius_u, radius_v, heat, cold = centers[order], radius_u[order], radius_v[order], heat[order], cold[order]

    edge_soft = 0.02 + 0.14 * (1.0 - params.edge_sharpness)
    tail = 1.0 + 4.5 * edge_soft  # beyond this normalised distance a nugget's coverage is negligible
    # Only the rows the band can reach are rendered (the seam is nearly horizontal).
    row_v = c * ca - offset_v
    reach_v = float(radius_v.max()) * tail + 0.5 * abs(sa) + float(np.abs(bead_wander).max()) + 2.0 / S
    rows = np.nonzero(np.abs(row_v) < reach_v)[0]
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    ub = u[r0:r1].astype(np.float32)
    vb = (v - bead_wander)[r0:r1].astype(np.float32)
    bead = np.zeros(ub.shape, np.float32)
    cover = np.zeros(ub.shape, np.float32)
    k = np.float32(params.contrast)
    inv_es = np.float32(1.0 / edge_soft)
    weld_level = base_level + params.brightness

    def composite(sel: np.ndarray, candidates: list[np.ndarray]) -> None:
        """Lay the nuggets ``sel[candidates[i]]`` over the bead, oldest first (newer ones on top)."""
        cs = centers[sel].astype(np.float32)
        inv_ru = (1.0 / radius_u[sel]).astype(np.float32)
        inv_rv = (1.0 / radius_v[sel]).astype(np.float32)
        level = (weld_level + heat[sel]).astype(np.float32)
        for j in candidates:
            j = np.clip(j, 0, cs.size - 1)
            du = (ub - cs[j]) * inv_ru[j]
            dv = vb * inv_rv[j]
            d2 = du * du + dv * dv
            d = np.sqrt(d2)
            alpha = 1.0 / (1.0 + np.exp(np.minimum((d - 1.0) * inv_es, 30.0)))
            # A dome with faint solidification rings and a dark rim at the nugget's edge.
            ring = np.cos(np.float32(2 * np.pi * 2.5) * d) * (0.6 + 0.4 * d)
            rim = np.exp(-(((d - 0.93) * np.float32(1 / 0.08)) ** 2))
            dome = np.sqrt(np.maximum(1.0 - d2, 0.0))
            shade = (0.25 * du - 0.3 * dv + 0.25) * dome  # light from the upper right
            val = level[j] + k * (0.3 * ring - 0.9 * rim + shade)
            bead[...] += (val - bead) * alpha
            cover[...] += (1.0 - cover) * alpha

    # Sound nuggets overlap: the newest one reaching a pixel lies on top, the two before it
    # show through its soft edge.
    sound = np.nonzero(~cold)[0]
    ru_t = np.float32(float(np.median(radius_u[sound])) * tail)
    rv_t = np.float32(float(np.median(radius_v[sound])) * tail)
    h = ru_t * np.sqrt(np.maximum(1.0 - (vb / rv_t) ** 2, 0.0))
    top = np.searchsorted(centers[sound], ub + h) - 1
    composite(sound, [top - 3, top - 2, top - 1, top])
    if cold.any():
        # Cold nuggets are small and apart: only the nearest two can reach a pixel.
        cold_idx = np.nonzero(cold)[0]
        near = np.searchsorted(centers[cold_idx], ub)
        composite(cold_idx, [near - 1, near])
    bead += np.float32(0.045) * ndimage.gaussian_filter(rng.standard_normal(bead.shape, dtype=np.float32), 1.0)
    band = image[r0:r1]
    band += (bead - band) * cover
    full_cover = np.zeros((S, S), np.float32)
    full_cover[r0:r1] = cover
    cover = full_cover

    # Pores: small dark pits with a bright lip on the lit side; too few pixels to move the histogram.
    for pu, pv, pr, depth in pores:
        rad = pr * 4.0
        yy = np.abs(v - pv) < rad
        xx = np.abs(u - pu) < rad
        region = yy & xx
        if not region.any():
            continue
        ru = (u - pu)[region]
        rv = (v - pv)[region]
        r2 = (ru * ru + rv * rv) / (pr * pr)
        pit = -depth * np.exp(-r2) + 0.45 * depth * np.exp(-((ru - 0.6 * pr) ** 2 + (rv + 0.6 * pr) ** 2) / (0.8 * pr) ** 2)
        image[region] += pit * cover[region]

    # ---- nuisances shared by all settings --------------------------------------------------------
    # Scratches: thin straight lines, bright or dark.
    for _ in range(rng.poisson(1.2)):
        theta = rng.uniform(0, np.pi)
        px, py = rng.uniform(-0.5, 0.5, 2)
        half = rng.uniform(0.1, 0.5)
        nx, ny = -math.sin(theta), math.cos(theta)
        dist = (x - px) * nx + (y - py) * ny
        along = (x - px) * math.cos(theta) + (y - py) * math.sin(theta)
        width = rng.uniform(0.4, 1.0) / S
        amp = rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.12)
        fade = np.clip(1.0 - np.abs(along) / half, 0.0, 1.0) ** 0.5
        image += amp * np.exp(-((dist / width) ** 2)) * fade
    # Dust: small soft specks, mostly dark.
    n_dust = rng.poisson(4.0)
    if n_dust:
        dust = np.zeros((S, S), np.float32)
        iy = rng.integers(0, S, n_dust)
        ix = rng.integers(0, S, n_dust)
        np.add.at(dust, (iy, ix), rng.choice([-1.0, 1.0], n_dust, p=[0.75, 0.25]) * rng.uniform(0.5, 1.5, n_dust))
        dust = ndimage.gaussian_filter(dust, max(0.6, 0.004 * S))
        dust *= 0.18 / (np.abs(dust).max() + 1e-9)
        image += dust

    # Illumination: gain, gradient, vignetting, gamma.
    g_theta = rng.uniform(0, 2 * np.pi)
    gradient = rng.uniform(0.0, 0.35) * (x * math.cos(g_theta) + y * math.sin(g_theta))
    vignette = rng.uniform(0.0, 0.25) * (x * x + y * y)
    image = image * rng.uniform(0.8, 1.2) * (1.0 + gradient - vignette) + rng.normal(0.0, 0.05)
    image = np.clip(image, 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    # Sensor noise.
    image = image + rng.standard_normal((S, S), dtype=np.float32) * np.float32(rng.uniform(0.006, 0.025))
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


# -------------------------------------------------------------------------------------- generation


def generate(options: SideseamOptions) -> SideseamImages:
    """Render every image of every setting (no cache)."""
    images = np.empty((len(SETTING_NAMES) * options.per_setting, options.size, options.size), dtype=np.uint8)
    settings: list[str] = []
    labels: list[str] = []
    defective: list[bool] = []
    failing = set(options.failing)
    n = 0
    for s_idx, name in enumerate(SETTING_NAMES):
        params = SETTINGS[name]
        for i in range(options.per_setting):
            rng = np.random.default_rng([options.seed, s_idx, i])
            draw = rng.random()  # always consumed, so the seam is the same whatever the options
            has_defect = name in failing and options.severity > 0 and draw < options.defect_fraction
            images[n] = render_seam(params, rng, options.size, options.severity if has_defect else 0.0)
            settings.append(name)
            labels.append(FAIL if name in failing else PASS)
            defective.append(bool(has_defect))
            n += 1
    return SideseamImages(images, tuple(settings), tuple(labels), tuple(defective))


def cache_path(options: SideseamOptions) -> Path:
    from seambench.paths import cache_dir

    return cache_dir() / "sideseam" / f"{options.cache_key()}.npz"


def _read_cache(path: Path, options: SideseamOptions) -> SideseamImages | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            images = np.array(data["images"])
            settings = tuple(str(s) for s in data["settings"])
            labels = tuple(str(s) for s in data["labels"])
            defective = tuple(bool(b) for b in data["defective"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    n = len(SETTING_NAMES) * options.per_setting
    if (
        images.dtype != np.uint8
        or images.shape != (n, options.size, options.size)
        or not (len(settings) == len(labels) == len(defective) == n)
    ):
        return None
    return SideseamImages(images, settings, labels, defective)


def load_or_generate(options: SideseamOptions) -> SideseamImages:
    """Images for ``options`` from the on-disk cache, generating (and caching) them when missing or unreadable."""
    path = cache_path(options)
    if path.exists():
        cached = _read_cache(path, options)
        if cached is not None:
            return cached
    result = generate(options)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp.npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(
                fh,
                images=result.images,
                settings=np.array(result.settings, dtype=str),
                labels=np.array(result.labels, dtype=str),
                defective=np.array(result.defective, dtype=bool),
            )
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return result
