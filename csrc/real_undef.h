#undef real
#undef FN
#undef GEMM
#undef GEMV
#undef EXP
#undef LOG
#undef SQRT
