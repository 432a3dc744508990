/* Instantiate a template header for float64: include this, then the template,
 * then real_undef.h. */
#define real double
#define FN(name) name##_f64
#define GEMM charrnn_blas.dgemm
#define GEMV charrnn_blas.dgemv
#define LOG log
#define SQRT sqrt
