"""Every mode Pillow opens resizes into every output format (issue 10, item 6).

CMYK, LAB, YCbCr, PA, sixteen-bit and float grey, 1-bit and palettes with
transparency are legal inputs; saving one as-is in a format without that mode
raised ``ValueError: image has wrong mode`` (a 500). The property: for any
such image in any input container that holds it, any output format and any
size, resize answers an image of exactly that size whose mode the format has.
"""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from stateline.app.imaging import FORMATS, resize, working_mode

MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV",
         "I", "I;16", "I;16B", "F")
CONTAINERS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


def _containers(mode: str) -> tuple[str, ...]:
    """The input formats Pillow writes this mode in (whatever mode it reads back as)."""
    found = []
    for container in CONTAINERS:
        try:
            _source(mode, container, (3, 2), False)
        except (OSError, ValueError, KeyError):
            continue
        found.append(container)
    return tuple(found)


#: Modes each output encoder takes.
SAVES = {"PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"},
         "JPEG": {"L", "RGB", "CMYK"}, "WEBP": {"RGB", "RGBA"}, "GIF": {"P", "L", "1"}}


def _source(mode: str, container: str, size: tuple[int, int], transparent: bool) -> bytes:
    image = Image.new(mode, size)
    if mode == "P":
        image.putpalette([i % 256 for i in range(768)])
        if transparent:
            image.info["transparency"] = 0
    buf = io.BytesIO()
    image.save(buf, format=container)
    return buf.getvalue()


SOURCES = {mode: _containers(mode) for mode in MODES}
SOURCES = {mode: found for mode, found in SOURCES.items() if found}


@st.composite
def sources(draw: st.DrawFn) -> tuple[str, str, bytes]:
    mode = draw(st.sampled_from(sorted(SOURCES)))
    container = draw(st.sampled_from(SOURCES[mode]))
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    return mode, container, _source(mode, container, size, draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(sources(), st.sampled_from(sorted(FORMATS)), st.integers(1, 32), st.integers(1, 32))
def test_any_mode_resizes_into_any_format(source: tuple[str, str, bytes], fmt: str,
                                          width: int, height: int) -> None:
    _mode, _container, data = source
    body, mime = resize(data, width, height, fmt)
    out = Image.open(io.BytesIO(body))
    assert mime == FORMATS[fmt][1]
    assert out.format == FORMATS[fmt][0]
    assert out.size == (width, height)
    assert out.mode in SAVES[out.format]


def test_the_property_covers_the_modes_of_the_issue() -> None:
    for mode in ("CMYK", "LAB", "YCbCr", "PA", "I;16", "F", "1", "P"):
        assert SOURCES.get(mode), mode


def test_every_listed_mode_appears_on_every_path() -> None:
    """The named modes of the issue, each into GIF, which failed for all of them."""
    for mode, container in [("CMYK", "TIFF"), ("LAB", "TIFF"), ("YCbCr", "TIFF"),
                            ("PA", "TIFF"), ("I;16", "PNG"), ("F", "TIFF")]:
        data = _source(mode, container, (9, 7), False)
        assert Image.open(io.BytesIO(data)).mode == mode
        body, _ = resize(data, 5, 4, "gif")
        assert Image.open(io.BytesIO(body)).size == (5, 4)


def test_alpha_survives_where_the_format_has_it() -> None:
    rgba = Image.new("RGBA", (4, 4))
    for fmt in ("PNG", "WEBP"):
        assert working_mode(rgba, fmt) == "RGBA"
    assert working_mode(rgba, "JPEG") == "RGB"
    assert working_mode(Image.new("LA", (4, 4)), "PNG") == "LA"
