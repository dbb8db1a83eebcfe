"""Makes the Chinese font zhifa ships for machines without one: Noto Serif CJK SC Regular
(SIL Open Font License 1.1, see OFL.txt), cut down to GB 2312 (6,763 hanzi and its symbols)
plus ASCII, Latin-1, general punctuation, CJK symbols and full-width forms, and renamed so
that it never stands in for the full font where that is installed.

    pip install fonttools
    python3 subset.py /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc

(the font of Debian's fonts-noto-cjk 1:20220127; the result is NotoSerifSC-GB2312.otf).
"""
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

FAMILY = "Noto Serif CJK SC GB2312"

chars = set()
for cp in range(0x20, 0x10000):
    try:
        chr(cp).encode("gb2312")
        chars.add(cp)
    except UnicodeEncodeError:
        pass
for lo, hi in [(0x20, 0x7F), (0xA0, 0x100), (0x2000, 0x2070), (0x2160, 0x2180),
               (0x2460, 0x2500), (0x3000, 0x3040), (0xFF00, 0xFFF0)]:
    chars.update(range(lo, hi))

collection = TTCollection(sys.argv[1])
font = next(f for f in collection.fonts if f["name"].getDebugName(1) == "Noto Serif CJK SC")
options = subset.Options()
options.layout_features = ["kern", "vert", "vrt2", "palt", "halt"]
options.hinting = False
options.name_IDs = ["*"]
subsetter = subset.Subsetter(options)
subsetter.populate(unicodes=sorted(chars))
subsetter.subset(font)
names = font["name"]
for record in names.names:
    if record.nameID in (1, 16):
        record.string = FAMILY
    elif record.nameID == 4:
        record.string = FAMILY
    elif record.nameID == 6:
        record.string = FAMILY.replace(" ", "") + "-Regular"
font.save("NotoSerifSC-GB2312.otf")
