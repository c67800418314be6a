// l1forge division layer: each output is a quantizer applied to its input divided by a constant
// integer (a mean over a count that is not a power of two, quantized), exactly. The numerator a
// (the input's mantissa, shifted to the output grid) is divided as floor(a / D) by one constant
// product and a shift (CONFIG_T::recip, exact over the input's range), the remainder decides the
// rounding, then the result saturates to the quantizer's range.
#ifndef L1FORGE_DIVIDE_H_
#define L1FORGE_DIVIDE_H_

namespace nnet {

// rounding modes, as qonnx names them
enum l1forge_rounding { L1FORGE_FLOOR = 0, L1FORGE_CEIL = 1, L1FORGE_DOWN = 2, L1FORGE_HALF_UP = 3, L1FORGE_ROUND = 4,
                       L1FORGE_UP = 5, L1FORGE_HALF_DOWN = 6 };

template <class data_T, class res_T, typename CONFIG_T>
void l1forge_divide(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    #pragma HLS INLINE
Divisions:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        typename CONFIG_T::raw_t raw;
        raw.range() = data[i].range();  // the input's mantissa
        typename CONFIG_T::wide_t a = raw;
        a <<= CONFIG_T::up;  // the numerator on the output grid
        typename CONFIG_T::prod_t x = a + CONFIG_T::offset_times_divisor();  // >= 0
        typename CONFIG_T::prod_t p = x * CONFIG_T::recip();
        typename CONFIG_T::wide_t q = p >> CONFIG_T::shift;
        q -= CONFIG_T::offset();  // floor(a / divisor)
        typename CONFIG_T::wide_t r = a - q * CONFIG_T::divisor();  // in [0, divisor)
        typename CONFIG_T::wide_t twice = r << 1;
        bool up;
        switch (CONFIG_T::rounding) {
        case L1FORGE_CEIL: up = r != 0; break;
        case L1FORGE_DOWN: up = r != 0 && a < 0; break;
        case L1FORGE_UP: up = r != 0 && a >= 0; break;
        case L1FORGE_HALF_UP: up = a < 0 ? twice > CONFIG_T::divisor() : twice >= CONFIG_T::divisor(); break;
        case L1FORGE_HALF_DOWN: up = a < 0 ? twice >= CONFIG_T::divisor() : twice > CONFIG_T::divisor(); break;
        case L1FORGE_ROUND: up = twice > CONFIG_T::divisor() || (twice == CONFIG_T::divisor() && q[0] == 1); break;
        default: up = false;
        }
        q += up;
        if (q < CONFIG_T::out_min) q = CONFIG_T::out_min;
        if (q > CONFIG_T::out_max) q = CONFIG_T::out_max;
        typename CONFIG_T::out_raw_t out = q;
        res[i].range() = out.range();  // the output's mantissa
    }
}

} // namespace nnet

#endif
