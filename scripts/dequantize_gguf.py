#!/usr/bin/env python3
"""Writes a copy of a GGUF with every tensor dequantized to F32 (same metadata, same values):
the lossless twin of a quantized model, on which llama.cpp computes in f32 end to end (no 8-bit
activations), for the agreement check in compare_llamacpp.py (--lossless).

Usage: scripts/dequantize_gguf.py IN.gguf OUT.gguf
Needs `pip install gguf` (it comes with llama-cpp-python's build requirements here).
"""
import os, sys

import numpy as np
import gguf


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    reader = gguf.GGUFReader(src)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    tmp = dst + ".part"
    writer = gguf.GGUFWriter(tmp, arch)
    for field in reader.fields.values():
        # The writer writes the architecture and the GGUF.* bookkeeping itself.
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    # GGUF lists dimensions fastest first; numpy shapes are the reverse.
    shapes = [tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors]
    for t, shape in zip(reader.tensors, shapes):
        writer.add_tensor_info(t.name, shape, np.dtype(np.float32), int(np.prod(shape)) * 4, raw_dtype=gguf.GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t, shape in zip(reader.tensors, shapes):
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        writer.write_tensor_data(values)
    writer.close()
    os.replace(tmp, dst)
    print(f"{dst}: {len(reader.tensors)} tensors as F32, {os.path.getsize(dst) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
