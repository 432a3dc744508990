#undef real
#undef FN
#undef GEMM
#undef GEMV
#undef LOG
#undef SQRT
