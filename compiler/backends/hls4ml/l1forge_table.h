// l1forge table layer: each output is a constant table entry indexed by its input's mantissa
// (the input's raw bits, minus the table's lowest code). The table is the function's meaning.
#ifndef L1FORGE_TABLE_H_
#define L1FORGE_TABLE_H_

namespace nnet {

template <class data_T, class res_T, typename CONFIG_T>
void l1forge_table(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    #pragma HLS INLINE
TableLookups:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        typename CONFIG_T::raw_t raw;
        raw.range() = data[i].range();  // the mantissa: data[i] * 2**in_frac
        res[i] = CONFIG_T::entry(raw - CONFIG_T::in_min);
    }
}

} // namespace nnet

#endif
