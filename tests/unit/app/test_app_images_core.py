"""Image probing and resizing, without a server: bounds are checked before decoding."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from stateline.app.errors import ApiError
from stateline.app.imaging import LIGHT_PIXELS, is_light, probe, resize


def _png(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that *declares* a size in its header and holds almost no data (a bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) \
        + chunk(b"IEND", b"")


def test_probe_reads_format_and_size() -> None:
    assert probe(_png(30, 20)) == ("png", 30, 20)


def test_resize_gives_exactly_the_asked_size_in_the_asked_format() -> None:
    body, mime = resize(_png(64, 48), 16, 8, "jpeg")
    assert mime == "image/jpeg"
    out = Image.open(io.BytesIO(body))
    assert (out.format, out.size) == ("JPEG", (16, 8))


def test_resize_keeps_the_source_format_by_default() -> None:
    body, mime = resize(_png(10, 10), 5, 5, None)
    assert mime == "image/png"
    assert Image.open(io.BytesIO(body)).size == (5, 5)


def test_rgba_to_jpeg_is_converted_rather_than_failing() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buf, format="PNG")
    body, _ = resize(buf.getvalue(), 4, 4, "jpeg")
    assert Image.open(io.BytesIO(body)).mode == "RGB"


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_non_images_are_415(data: bytes) -> None:
    with pytest.raises(ApiError) as info:
        probe(data)
    assert info.value.status == 415


@pytest.mark.parametrize(("width", "height"), [(8000, 8000), (50_001, 1000), (30_000, 30_000)])
def test_declared_pixels_over_the_limit_are_413_before_decoding(width: int, height: int) -> None:
    bomb = _png_header_only(width, height)
    assert len(bomb) < 100
    for call in (lambda: probe(bomb), lambda: resize(bomb, 10, 10, None)):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.status == 413


def test_truncated_pixel_data_is_415_not_a_crash() -> None:
    data = _png(100, 100)
    with pytest.raises(ApiError) as info:
        resize(data[: len(data) // 2], 10, 10, None)
    assert info.value.status == 415


def test_formats_outside_the_raster_list_are_refused_unopened() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(ApiError) as info:
        probe(eps)
    assert info.value.status == 415


def test_bmp_input_is_written_back_as_png_by_default() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (6, 6)).save(buf, format="BMP")
    _, mime = resize(buf.getvalue(), 3, 3, None)
    assert mime == "image/png"


def _saved(fmt: str, width: int, height: int, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_small_stills_are_light_and_everything_else_goes_to_a_decoder_process() -> None:
    assert is_light(_png(64, 64)) and is_light(_saved("JPEG", 1000, 1000))
    assert is_light(_saved("BMP", 10, 10))
    side = int(LIGHT_PIXELS ** 0.5) + 1
    assert not is_light(_png_header_only(side, side))  # over a megapixel: a process
    assert not is_light(_saved("GIF", 8, 8))  # frames unknown from the header
    assert not is_light(_saved("WEBP", 8, 8))
    frames = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(3)]
    apng = io.BytesIO()
    frames[0].save(apng, format="PNG", save_all=True, append_images=frames[1:])
    assert not is_light(apng.getvalue())  # an animated PNG


def test_is_light_applies_the_header_checks_first() -> None:
    with pytest.raises(ApiError) as info:
        is_light(_png_header_only(20_000, 20_000))
    assert info.value.status == 413
    with pytest.raises(ApiError) as info:
        is_light(b"not an image")
    assert info.value.status == 415
