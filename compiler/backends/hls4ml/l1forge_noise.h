// l1forge on-chip noise source (compiler/ir/noise.py defines it): per lane a 64-bit Fibonacci LFSR
// (taps 64, 63, 61, 60) advanced CONFIG_T::address_bits steps per call, its low bits addressing a
// table of the Gaussian's equiprobable cells. Output position j holds condition source(j) when
// source(j) >= 0, else lane -source(j) - 1. The state lives in the function: call k after
// power-up (or after the C simulation library is loaded) gets draw k.
#ifndef L1FORGE_NOISE_H_
#define L1FORGE_NOISE_H_

#include "ap_int.h"

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void l1forge_noise(data_T cond[CONFIG_T::n_in], res_T res[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    static ap_uint<64> state[CONFIG_T::lanes];
    static bool started = false;
    if (!started) {
        for (unsigned l = 0; l < CONFIG_T::lanes; l++) state[l] = CONFIG_T::seed(l);
        started = true;
    }
Columns:
    for (unsigned j = 0; j < CONFIG_T::n_out; j++) {
        #pragma HLS UNROLL
        const int s = CONFIG_T::source(j);
        if (s >= 0) res[j] = cond[s];
        else res[j] = CONFIG_T::entry(state[-s - 1].range(CONFIG_T::address_bits - 1, 0));
    }
Lanes:
    for (unsigned l = 0; l < CONFIG_T::lanes; l++) {
        #pragma HLS UNROLL
        ap_uint<64> x = state[l];
        for (unsigned i = 0; i < CONFIG_T::address_bits; i++) {
            #pragma HLS UNROLL
            const ap_uint<1> bit = x[63] ^ x[62] ^ x[60] ^ x[59];
            x = (x << 1) | ap_uint<64>(bit);
        }
        state[l] = x;
    }
}

} // namespace nnet

#endif
