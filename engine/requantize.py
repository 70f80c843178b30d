"""Rewrite a GGUF with its Q4_1 matrices as Q4_0, everything else (metadata, tokenizer, other tensors) as it was.

Q4_0 is what llama.cpp's CPU backend repacks into interleaved blocks with batched kernels; Q4_1 has none,
so only a Q4_0 model decodes several requests together for less than the sum of their costs.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Quant


def requantize(source: Path, target: Path) -> None:
    reader = gguf.GGUFReader(source)
    architecture = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(target, architecture)
    for field in reader.fields.values():
        # The writer sets the architecture and the GGUF.* header fields itself; the file type changes.
        if field.name in (gguf.Keys.General.ARCHITECTURE, gguf.Keys.General.FILE_TYPE) or field.name.startswith(
            "GGUF."
        ):
            continue
        kind = field.types[0]
        item = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=item)
    tensors = [(tensor.name, *_as_q4_0(tensor)) for tensor in reader.tensors]
    for name, data, quant in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, quant)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, data, _ in tensors:
        writer.write_tensor_data(data)
    writer.close()


def _as_q4_0(tensor: gguf.ReaderTensor) -> tuple[np.ndarray, Quant]:
    if tensor.tensor_type != Quant.Q4_1:
        return np.asarray(tensor.data), Quant(tensor.tensor_type)
    values = gguf.quants.dequantize(tensor.data, Quant.Q4_1)
    return gguf.quants.quantize(values, Quant.Q4_0), Quant.Q4_0
