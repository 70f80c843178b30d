"""Convert a GGUF checkpoint to a safetensors folder vLLM can load on the CPU.

Runs inside the vLLM environment (it needs transformers, gguf and accelerate, none of which LLMOS
itself depends on): `python engine/vllm_convert.py MODEL.gguf OUT_DIR`. The weights are dequantized
to float32; the tokenizer and chat template come from the GGUF's own metadata.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(str(partial))
    tokenizer.save_pretrained(str(partial))
    # Only a complete folder gets the final name, so an interrupted conversion is redone.
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: vllm_convert.py MODEL.gguf OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
