// l1forge routing layer: each output is one input value (a wire) or the sum of k input values
// (an adder tree), at positions fixed by a constant table. No multiplier is involved.
#ifndef L1FORGE_ROUTE_H_
#define L1FORGE_ROUTE_H_

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void l1forge_route(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out]) {
    #pragma HLS INLINE
RouteOutputs:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        #pragma HLS UNROLL
        typename CONFIG_T::accum_t acc = data[CONFIG_T::source(i, 0)];  // holds every partial sum
    RouteSum:
        for (unsigned j = 1; j < CONFIG_T::n_sum; j++) {
            #pragma HLS UNROLL
            acc += data[CONFIG_T::source(i, j)];
        }
        res[i] = acc;
    }
}

} // namespace nnet

#endif
