"""The Pillow-mode matrix (issue #21, item 2): every Pillow mode written in every format Pillow
writes it to, opened back by Pillow, hashed by the references (`pdqhash` on `convert("RGB")`,
`imagehash` on the image) and by nearmatch from the file's bytes. Prints one line per case:
the mode Pillow opened, the PDQ distance and qualities (ours/reference), and which imagehash
functions differ. A survey tool, not a test: it shows the gaps still open (see the README).

    .venv/bin/python scripts/pillow-mode-matrix.py        # needs the module and python/requirements-test.txt
"""
import io, warnings
import numpy as np
from PIL import Image, ImageDraw
import pdqhash, imagehash
warnings.simplefilter("ignore")

def base(w=256, h=192, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // (w - 1)).astype(np.uint8)
    g = (y * 255 // (h - 1)).astype(np.uint8)
    b = ((x + y) * 2 % 256).astype(np.uint8)
    im = Image.fromarray(np.dstack([r, g, b]))
    d = ImageDraw.Draw(im)
    for i in range(6):
        x0, y0 = rng.integers(0, w - 40), rng.integers(0, h - 40)
        d.ellipse([x0, y0, x0 + rng.integers(20, 80), y0 + rng.integers(20, 80)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return im

def in_mode(mode, seed=0):
    im = base(seed=seed)
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        l = np.asarray(im.convert("L")).astype(np.float64)
        arrs = {"lo": l, "mid": l * 2.3, "hi": l * 257}
        out = {}
        for k, a in arrs.items():
            if mode == "F":
                out[k] = Image.fromarray(a.astype(np.float32))
            elif mode == "I":
                out[k] = Image.fromarray(a.astype(np.int32))
            else:
                dt = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2"}[mode]
                out[k] = Image.fromarray(a.astype(dt))
                if mode != "I;16":
                    out[k] = Image.frombuffer(mode, out[k].size, a.astype(dt).tobytes(), "raw", mode, 0, 1)
        return out
    if mode == "LA":
        a = im.convert("L"); al = Image.fromarray(np.asarray(base(seed=seed + 1).convert("L")))
        return {"": Image.merge("LA", (a, al))}
    if mode == "RGBA":
        al = base(seed=seed + 1).convert("L")
        return {"": Image.merge("RGBA", (*im.split(), al))}
    if mode == "P":
        return {"": im.convert("P", palette=Image.Palette.ADAPTIVE, colors=200)}
    if mode == "Ptrns":
        p = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=200); p.info["transparency"] = 3
        return {"": p}
    if mode == "PA":
        return {"": im.convert("P", palette=Image.Palette.ADAPTIVE, colors=200).convert("PA")}
    return {"": im.convert(mode)}

MODES = ["1", "L", "LA", "P", "Ptrns", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "I;16B", "I;16L", "F"]
FORMATS = [("PNG", {}), ("BMP", {}), ("GIF", {}), ("WEBP", {"lossless": True}), ("JPEG", {"quality": 90}),
           ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}), ("TIFF", {"compression": "tiff_adobe_deflate"}),
           ("TIFF", {"compression": "packbits"}), ("TIFF", {"compression": "jpeg"})]

def pdq_ref(im):
    v, q = pdqhash.compute(np.ascontiguousarray(np.asarray(im.convert("RGB"))))
    bits = "".join("1" if b else "0" for b in v)
    return "".join(f"{int(bits[i:i+4],2):x}" for i in range(0, 256, 4)), q

def cases():
    for mode in MODES:
        for sub, im in in_mode(mode).items():
            for fmt, kw in FORMATS:
                b = io.BytesIO()
                try:
                    im.save(b, fmt, **kw)
                    b.seek(0); back = Image.open(b); back.load()
                except Exception as e:
                    continue
                yield mode, sub, fmt, kw.get("compression", ""), b.getvalue(), back

if __name__ == "__main__":
    import nearmatch
    for mode, sub, fmt, comp, data, back in cases():
        tag = f"{mode}{('/'+sub) if sub else ''} {fmt} {comp}"
        try:
            ref_rgb = pdq_ref(back)
        except Exception as e:
            print(f"{tag:40} opened {back.mode:6} pdqref ERR {e}"); continue
        try:
            h = nearmatch.pdq(data)
            d = bin(int(str(h), 16) ^ int(ref_rgb[0], 16)).count("1")
            pdq = f"pdq d={d} q={h.quality}/{ref_rgb[1]}"
        except Exception as e:
            pdq = f"pdq ERR {str(e)[:80]}"
        fam = []
        for name, f, rf in [("phash", nearmatch.phash, imagehash.phash), ("dhash", nearmatch.dhash, imagehash.dhash), ("ahash", nearmatch.ahash, imagehash.average_hash), ("whash", nearmatch.whash, imagehash.whash)]:
            try:
                r = str(rf(back)); o = str(f(data))
                if r != o: fam.append(f"{name}:{bin(int(r,16)^int(o,16)).count('1')}")
            except Exception as e:
                fam.append(f"{name} ERR {str(e)[:60]}")
        print(f"{tag:40} opened {back.mode:6} {pdq:30} {' '.join(fam) or 'family ok'}")
