/* End a template instantiation (real_float.h, real_double.h). */
#undef real
#undef FN
#undef GEMM
#undef GEMV
#undef LOG
#undef SQRT
