"""The Pillow work of the image service: open, verify, convert, resize, encode.

Pure functions of bytes, with no I/O and no request, so that they run in a
decoder process (``decoders.py``) and the unit tests drive them directly.
Every function is bounded by ``max_pixels``: an image is refused from its
*header* when it declares more (a decompression bomb is a small file), and a
multi-frame image is refused as soon as its frames together pass the budget.

Why the mode conversions: each encoder takes only some of Pillow's modes (JPEG
has no alpha, WebP only RGB/RGBA, GIF a palette), and sixteen-bit, float,
CMYK, LAB, YCbCr and palette-with-alpha images are legal inputs. Saving one
as-is raised ``ValueError: image has wrong mode`` (a 500). :func:`working_mode`
picks, per output format, the mode the image is resampled and saved in.
"""

from __future__ import annotations

import io

from PIL import Image, ImageCms, ImageSequence, UnidentifiedImageError

from stateline.app.errors import ApiError

MAX_SIDE = 4096
#: Default bound on the pixels one request may decode (all frames together).
DEFAULT_MAX_PIXELS = 25_000_000
#: Output formats: name → (Pillow format, media type).
FORMATS = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "jpg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
    "gif": ("GIF", "image/gif"),
}
#: Formats accepted as input: common raster formats only. Pillow can open more (EPS
#: through Ghostscript, for one), which an upload endpoint has no business running.
INPUT_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_BY_PIL = {pil: (name, mime) for name, (pil, mime) in FORMATS.items() if name != "jpg"}
#: Errors Pillow raises on damaged data (truncation is an OSError).
_DAMAGED = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError)


def _too_large(detail: str) -> ApiError:
    return ApiError(413, "image_too_large", detail)


def _damaged() -> ApiError:
    return ApiError(415, "not_an_image", "the image data is damaged or truncated")


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open (header only) and check the declared size, without decoding pixels."""
    try:
        # Pillow itself refuses beyond 2x its own limit; our stricter check follows.
        image = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
    except Image.DecompressionBombError:
        raise _too_large(f"image declares more than {max_pixels} pixels") from None
    except (UnidentifiedImageError, *_DAMAGED):
        raise ApiError(415, "not_an_image", "the body is not an image Pillow can read") from None
    width, height = image.size
    if width * height > max_pixels:
        raise _too_large(f"image declares {width}x{height}, over {max_pixels} pixels")
    return image


def probe(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """``(format name, width, height)`` of an image, from its header alone."""
    image = open_image(data, max_pixels)
    name = _BY_PIL.get(image.format or "", (str(image.format).lower(), ""))[0]
    return name, image.width, image.height


#: Largest still image decoded on a thread of the instance instead of in a decoder
#: process: 1 MP is at most 4 MB of pixels (RGBA) and a few milliseconds of CPU, where
#: forking a decoder costs about 25 ms per job. Only formats whose header says how
#: many frames there are (PNG's acTL, JPEG and BMP: one) qualify, so a light image
#: cannot turn into many frames once decoding starts.
LIGHT_PIXELS = 1_000_000
_LIGHT_FORMATS = frozenset({"PNG", "JPEG", "BMP"})


def is_light(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bool:
    """:func:`probe`'s checks (413/415 from the header), then: small enough for a thread?"""
    image = open_image(data, max_pixels)
    return (image.format in _LIGHT_FORMATS and getattr(image, "n_frames", 1) == 1
            and image.width * image.height <= min(LIGHT_PIXELS, max_pixels))


def verify(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """:func:`probe`, after decoding every frame: a truncated file is 415 here, not later.

    Frames are decoded one at a time against a budget of ``max_pixels`` in all,
    so an animation of many frames cannot cost more than one large still.
    """
    name, width, height = probe(data, max_pixels)
    image = open_image(data, max_pixels)
    spent = 0
    try:
        for frame in ImageSequence.Iterator(image):
            spent += frame.width * frame.height
            if spent > max_pixels:
                raise _too_large(f"the frames together are over {max_pixels} pixels")
            frame.load()
    except (*_DAMAGED, Image.DecompressionBombError):
        raise _damaged() from None
    return name, width, height


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def working_mode(image: Image.Image, pil_format: str) -> str:
    """The mode ``image`` is resampled and saved in for ``pil_format``.

    Alpha is kept where the format has it (PNG, WebP; GIF as one transparent
    index from RGBA); grey stays grey where the format has grey; anything else
    is RGB. Palettes are expanded first because resampling palette indices
    would mix unrelated colours.
    """
    alpha = _has_alpha(image)
    grey = image.mode in ("1", "L", "LA", "La", "I", "F") or image.mode.startswith("I;16")
    if pil_format == "JPEG":
        return "L" if grey and not alpha else "RGB"
    if pil_format == "WEBP":
        return "RGBA" if alpha else "RGB"
    if alpha:
        return "LA" if grey and pil_format == "PNG" else "RGBA"
    return "L" if grey else "RGB"


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """``image`` converted to ``mode`` (L, LA, RGB or RGBA), for every mode Pillow opens."""
    if image.mode == mode:
        return image
    if image.mode == "LAB":  # Pillow has no LAB → RGB conversion of its own: go through LCMS
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        image = ImageCms.profileToProfile(image, lab, srgb, outputMode="RGB")
        return image if mode == "RGB" else to_mode(image, mode)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # Wide grey: scale 0..65535 down to 0..255 instead of clipping to white.
        wide = image.convert("I") if image.mode.startswith("I;16") else image
        scale = 1 / 256 if image.mode != "F" else 1.0
        image = wide.point(lambda v: v * scale).convert("L")
        return image if mode == "L" else to_mode(image, mode)
    if image.mode in ("P", "PA") and mode in ("L", "LA"):
        image = image.convert("RGBA")
    return image.convert(mode)


def resize(data: bytes, width: int, height: int, fmt: str | None,
           max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, str]:
    """The image scaled to exactly ``width`` x ``height``, encoded as ``fmt``."""
    image = open_image(data, max_pixels)
    pil_format, mime = FORMATS[fmt or _BY_PIL.get(image.format or "", ("png", ""))[0]]
    try:
        image.draft("RGB", (width, height))  # JPEG: decode at a reduced scale when it can
        work = to_mode(image, working_mode(image, pil_format))
        out = work.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    except (*_DAMAGED, Image.DecompressionBombError):
        raise _damaged() from None
    buf = io.BytesIO()
    out.save(buf, format=pil_format)
    return buf.getvalue(), mime
