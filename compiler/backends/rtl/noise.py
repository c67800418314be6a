"""The on-chip noise source in Verilog (compiler.ir.noise defines it): one module of LFSRs and
Gaussian tables, and a top that wires its lanes into the network's input beside the conditions.

    <top>_noise:  input clk; output noise (lane 0 in the lowest bits)
    <top>_noisy:  input clk, model_inp (the condition columns); output model_out; the network
                  (<top>) reads {conditions and noise lanes in column order}

The top keeps the network's port names, so every simulator of the network drives it unchanged.
"""
from __future__ import annotations

from pathlib import Path

from l1forge.compiler.ir.noise import LFSR_BITS, TAPS, NoiseSpec


def _signed(value: int, bits: int) -> str:
    return f"{bits}'h{value & ((1 << bits) - 1):0{(bits + 3) // 4}x}"


def noise_module(name: str, spec: NoiseSpec) -> str:
    m, b, lanes = spec.address_bits, spec.bits, spec.lanes
    feedback = " ^ ".join(f"step[{t - 1}]" for t in TAPS)
    rows = "\n".join(f"            {m}'d{a}: gauss = {_signed(v, b)};" for a, v in enumerate(spec.values))
    regs = "\n".join(f"    reg [{LFSR_BITS - 1}:0] lfsr{l} = {LFSR_BITS}'h{s:016x};" for l, s in enumerate(spec.seeds))
    steps = "\n".join(f"        lfsr{l} <= advance(lfsr{l});" for l in range(lanes))
    outs = "\n".join(f"    assign noise[{(l + 1) * b - 1}:{l * b}] = gauss(lfsr{l}[{m - 1}:0]);" for l in range(lanes))
    return f"""// l1forge on-chip noise source: {lanes} lanes, each a {LFSR_BITS}-bit Fibonacci LFSR (taps
// {', '.join(map(str, TAPS))}) advanced {m} steps per clock, its low {m} bits addressing a table of the
// Gaussian's equiprobable cells on the grid 2^-{spec.frac} ({b}-bit signed). Defined in compiler/ir/noise.py.
`timescale 1 ns / 1 ps

module {name} (
    input clk,
    output [{lanes * b - 1}:0] noise
);

    function [{LFSR_BITS - 1}:0] advance;
        input [{LFSR_BITS - 1}:0] s;
        reg [{LFSR_BITS - 1}:0] step;
        integer i;
        begin
            step = s;
            for (i = 0; i < {m}; i = i + 1)
                step = {{step[{LFSR_BITS - 2}:0], {feedback}}};
            advance = step;
        end
    endfunction

    function [{b - 1}:0] gauss;
        input [{m - 1}:0] a;
        begin
            case (a)
{rows}
            endcase
        end
    endfunction

{regs}

    always @(posedge clk) begin
{steps}
    end

{outs}

endmodule
"""


def noisy_top(name: str, network: str, source: str, spec: NoiseSpec, widths: list[int], out_width: int) -> str:
    """The top: the condition columns on model_inp (in order, each at the network's port width),
    the noise lanes in their columns. A noise column's port holds the input quantizer's range, so
    its width is at most the table's `bits` and the lane's low bits are its value."""
    b = spec.bits
    parts, offset = [], 0
    for (noise, k), w in zip(spec.column_sources(len(widths)), widths):
        if w == 0:
            continue
        if noise:
            parts.append(f"noise[{k * b + w - 1}:{k * b}]")
        else:
            parts.append(f"model_inp[{offset + w - 1}:{offset}]")
            offset += w
    return f"""// l1forge: the network {network} with its noise columns ({', '.join(map(str, spec.columns))}) drawn on
// chip by {source}; model_inp carries the other columns in order.
`timescale 1 ns / 1 ps

module {name} (
    input clk,
    input [{max(offset, 1) - 1}:0] model_inp,
    output [{out_width - 1}:0] model_out
);

    wire [{spec.lanes * b - 1}:0] noise;
    {source} source (.clk(clk), .noise(noise));
    {network} network (.clk(clk), .model_inp({{{', '.join(reversed(parts))}}}), .model_out(model_out));

endmodule
"""


def write_noise_source(src: Path, network: str, spec: NoiseSpec, comb) -> None:
    """Write <network>_noise.v and <network>_noisy.v into src, around the network traced as `comb`
    (da4ml's program: its port element widths)."""
    from da4ml.types import minimal_kif

    def widths(qints) -> list[int]:
        return [sum(int(v) for v in minimal_kif(q)) for q in qints]

    source, top = f"{network}_noise", f"{network}_noisy"
    (Path(src) / f"{source}.v").write_text(noise_module(source, spec))
    (Path(src) / f"{top}.v").write_text(noisy_top(top, network, source, spec, widths(comb.inp_qint),
                                                  max(1, sum(widths(comb.out_qint)))))
