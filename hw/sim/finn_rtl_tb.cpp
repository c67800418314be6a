// Verilator testbench for the RTL layers of a FINN build (hw/sim/finn_rtl.py writes layers.inc
// and the top module that instantiates every layer side by side on one clock, ap_clk, and one
// active-low reset, ap_rst_n).
//
// Each layer gets its own AXI stream: the input beats of l<k>_in.bin are offered with random gaps
// in TVALID, the output is taken with random gaps in TREADY (a fixed seed: runs are repeatable),
// and the beats seen are written to l<k>_out.bin. A beat moves when TVALID and TREADY are both
// high at a rising edge, as in AXI4-Stream.
//
// usage: tb DIR N_OUT_0 N_OUT_1 ...   (the expected number of output beats of each layer)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

template <typename T>
static void put(T& port, const uint32_t* w, int words) {
    uint64_t v = w[0];
    if (words > 1) v |= static_cast<uint64_t>(w[1]) << 32;
    port = static_cast<T>(v);
}
template <std::size_t N>
static void put(VlWide<N>& port, const uint32_t* w, int words) {
    for (std::size_t i = 0; i < N; ++i) port[i] = static_cast<int>(i) < words ? w[i] : 0;
}
template <typename T>
static void get(const T& port, uint32_t* w, int words) {
    uint64_t v = static_cast<uint64_t>(port);
    w[0] = static_cast<uint32_t>(v);
    if (words > 1) w[1] = static_cast<uint32_t>(v >> 32);
}
template <std::size_t N>
static void get(const VlWide<N>& port, uint32_t* w, int words) {
    for (int i = 0; i < words; ++i) w[i] = port[i];
}

struct Layer {
    int in_words, out_words;
    void (*drive)(Vtop*, const uint32_t*, bool);  // TDATA and TVALID of the input
    bool (*in_ready)(Vtop*);
    bool (*out_valid)(Vtop*);
    void (*sample)(Vtop*, uint32_t*);  // TDATA of the output
    void (*take)(Vtop*, bool);         // TREADY of the output
};

#include "layers.inc"  // static const Layer LAYERS[]; N_LAYERS

static uint32_t rng_state = 0x1f2e3d4cu;
static bool coin() {  // true 3 times in 4 (xorshift32)
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (rng_state & 3u) != 0;
}

int main(int argc, char** argv) {
    if (argc != 2 + N_LAYERS) {
        std::fprintf(stderr, "usage: tb DIR n_out x %d\n", N_LAYERS);
        return 2;
    }
    const std::string dir = argv[1];
    std::vector<std::vector<uint32_t>> in(N_LAYERS), out(N_LAYERS);
    std::vector<long> n_in(N_LAYERS), n_out(N_LAYERS), sent(N_LAYERS, 0), got(N_LAYERS, 0);
    std::vector<bool> offer(N_LAYERS, false), ready(N_LAYERS, false);
    long budget = 1000;
    for (int k = 0; k < N_LAYERS; ++k) {
        FILE* f = std::fopen((dir + "/l" + std::to_string(k) + "_in.bin").c_str(), "rb");
        if (!f) { std::fprintf(stderr, "cannot read the input beats of layer %d\n", k); return 2; }
        std::fseek(f, 0, SEEK_END);
        n_in[k] = std::ftell(f) / (4L * LAYERS[k].in_words);
        std::fseek(f, 0, SEEK_SET);
        in[k].resize(n_in[k] * LAYERS[k].in_words + 2);
        if (std::fread(in[k].data(), 4, n_in[k] * LAYERS[k].in_words, f) != static_cast<size_t>(n_in[k] * LAYERS[k].in_words)) return 2;
        std::fclose(f);
        n_out[k] = std::atol(argv[2 + k]);
        out[k].resize(n_out[k] * LAYERS[k].out_words + 2);
        budget += 8 * (n_in[k] + n_out[k]);
    }
    Vtop* top = new Vtop;
    top->ap_rst_n = 0;  // active low, held for 8 cycles
    for (int c = 0; c < 8; ++c) { top->ap_clk = 0; top->eval(); top->ap_clk = 1; top->eval(); }
    top->ap_rst_n = 1;
    long cycle = 0;
    for (; cycle < budget; ++cycle) {
        bool done = true;
        for (int k = 0; k < N_LAYERS; ++k) {
            const Layer& l = LAYERS[k];
            offer[k] = sent[k] < n_in[k] && coin();
            l.drive(top, &in[k][sent[k] * l.in_words], offer[k]);
            ready[k] = coin();
            l.take(top, ready[k]);
            done = done && got[k] == n_out[k];
        }
        if (done) break;
        top->ap_clk = 0;
        top->eval();
        for (int k = 0; k < N_LAYERS; ++k) {  // the handshakes that complete at this rising edge
            const Layer& l = LAYERS[k];
            if (offer[k] && l.in_ready(top)) ++sent[k];
            if (ready[k] && l.out_valid(top) && got[k] < n_out[k]) {
                l.sample(top, &out[k][got[k] * l.out_words]);
                ++got[k];
            }
        }
        top->ap_clk = 1;
        top->eval();
    }
    for (int k = 0; k < N_LAYERS; ++k) {
        FILE* f = std::fopen((dir + "/l" + std::to_string(k) + "_out.bin").c_str(), "wb");
        std::fwrite(out[k].data(), 4, got[k] * LAYERS[k].out_words, f);
        std::fclose(f);
        std::printf("layer %d: %ld of %ld input beats taken, %ld of %ld output beats\n", k, sent[k], n_in[k], got[k], n_out[k]);
    }
    std::printf("cycles %ld\n", cycle);
    top->final();
    delete top;
    return 0;
}
