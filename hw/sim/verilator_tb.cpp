// l1forge's cycle-accurate testbench for a da4ml pipeline: one input vector per rising clock
// edge, the output port sampled after every edge. Files hold little-endian 32-bit words, a fixed
// number per vector (the port width rounded up to 32 bits).
// usage: tb INPUTS OUTPUTS CYCLES   (inputs: CYCLES vectors; outputs: CYCLES vectors written)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <type_traits>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

template <typename T> constexpr int words_of() {
    if constexpr (std::is_integral_v<T>) return (sizeof(T) + 3) / 4;
    else return T{}.Words;
}

template <typename T> void load(T &port, const uint32_t *w) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = w[0];
        if constexpr (sizeof(T) > 4) v |= static_cast<uint64_t>(w[1]) << 32;
        port = static_cast<T>(v);
    } else {
        for (int i = 0; i < T::Words; ++i) port[i] = w[i];
    }
}

template <typename T> void store(const T &port, uint32_t *w) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = port;
        w[0] = static_cast<uint32_t>(v);
        if constexpr (sizeof(T) > 4) w[1] = static_cast<uint32_t>(v >> 32);
    } else {
        for (int i = 0; i < T::Words; ++i) w[i] = port[i];
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { std::fprintf(stderr, "usage: tb INPUTS OUTPUTS CYCLES\n"); return 2; }
    auto context = std::make_unique<VerilatedContext>();
    auto dut = std::make_unique<Vtop>(context.get());
    using In = std::remove_reference_t<decltype(dut->model_inp)>;
    using Out = std::remove_reference_t<decltype(dut->model_out)>;
    const long cycles = std::atol(argv[3]);
    const int wi = words_of<In>(), wo = words_of<Out>();
    std::vector<uint32_t> in(cycles * wi), out(cycles * wo);
    FILE *f = std::fopen(argv[1], "rb");
    if (!f || std::fread(in.data(), 4, in.size(), f) != in.size()) { std::fprintf(stderr, "cannot read inputs\n"); return 2; }
    std::fclose(f);
    dut->clk = 0;
    dut->eval();
    for (long c = 0; c < cycles; ++c) {
        load(dut->model_inp, &in[c * wi]);  // presented before rising edge c
        dut->clk = 1;
        dut->eval();
        store(dut->model_out, &out[c * wo]);  // sampled after rising edge c
        dut->clk = 0;
        dut->eval();
    }
    dut->final();
    f = std::fopen(argv[2], "wb");
    if (!f || std::fwrite(out.data(), 4, out.size(), f) != out.size()) { std::fprintf(stderr, "cannot write outputs\n"); return 2; }
    std::fclose(f);
    return 0;
}
